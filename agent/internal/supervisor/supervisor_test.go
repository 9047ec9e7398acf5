package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/process"
	"github.com/ferryhq/ferry/agent/internal/supervisor"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	started   = ferryv1.ReportKind_REPORT_KIND_STARTED
	completed = ferryv1.ReportKind_REPORT_KIND_COMPLETED
	failed    = ferryv1.ReportKind_REPORT_KIND_FAILED
	timedOut  = ferryv1.ReportKind_REPORT_KIND_TIMED_OUT
	cancelled = ferryv1.ReportKind_REPORT_KIND_CANCELLED
	crashed   = ferryv1.ReportKind_REPORT_KIND_CRASHED
)

// bundle is a supervisor running against a fake control plane.
type bundle struct {
	srv *agenttest.Server
	sup *supervisor.Supervisor
	// shutdown starts the supervisor's graceful shutdown.
	shutdown context.CancelFunc
	// done receives what Run returned.
	done chan error
}

type setupOptions struct {
	server agenttest.Options
	config supervisor.Config
	token  string
	noWait bool // do not wait for the first stream
	// launchers are added to the process launcher every setup registers.
	launchers map[string]launch.Launcher
}

func setup(t *testing.T, o setupOptions) *bundle {
	t.Helper()
	srv := agenttest.New(t, o.server)
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	token := o.token
	if token == "" {
		token = agenttest.Token
	}
	c, err := conn.New(conn.Config{
		ServerURL:   srv.URL,
		Token:       token,
		Name:        "test-agent",
		Capacity:    4,
		Logger:      logger,
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  100 * time.Millisecond,
		CallTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("conn.New: %v", err)
	}
	launcher, err := process.New(process.Config{Logger: logger})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	cfg := o.config
	cfg.Conn = c
	cfg.Launchers = map[string]launch.Launcher{"process": launcher}
	maps.Copy(cfg.Launchers, o.launchers)
	cfg.Logger = logger
	if cfg.StopGrace == 0 {
		cfg.StopGrace = time.Second
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	sup, err := supervisor.New(cfg)
	if err != nil {
		t.Fatalf("supervisor.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	b := &bundle{srv: srv, sup: sup, shutdown: cancel, done: make(chan error, 1)}
	go func() { b.done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			t.Error("supervisor did not stop within 30s")
		}
	})
	if !o.noWait {
		srv.WaitFor(t, "the agent's stream", func(s *agenttest.Server) bool { return s.Connected() })
	}
	return b
}

// wait returns what Run returned, failing the test when it does not return
// within 20 seconds.
func (b *bundle) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor.Run did not return within 20s")
		return nil
	}
}

// waitIdle waits until the agent holds no run.
func (b *bundle) waitIdle(t *testing.T) {
	t.Helper()
	poll(t, "the agent to hold no run", func() bool { return b.sup.Stats().ActiveRuns == 0 })
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shell(script string) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/sh", "-c", script}}
}

// run returns a copy of what the server knows of a run.
func (b *bundle) run(runID string) *agenttest.Run {
	var r agenttest.Run
	b.srv.Inspect(func(s *agenttest.Server) { r = *s.Run(runID) })
	return &r
}

func (b *bundle) waitFinished(t *testing.T, runID string) *agenttest.Run {
	t.Helper()
	b.srv.WaitFor(t, "run "+runID+" to finish", func(s *agenttest.Server) bool { return s.Run(runID).Finished() })
	return b.run(runID)
}

func (b *bundle) waitStarted(t *testing.T, runID string) int {
	t.Helper()
	b.srv.WaitFor(t, "run "+runID+" to start", func(s *agenttest.Server) bool {
		return len(s.Run(runID).Reports) > 0
	})
	rep := b.run(runID).Reports[0]
	if rep.GetKind() != started {
		t.Fatalf("first report is %v, want STARTED", rep.GetKind())
	}
	pid, err := strconv.Atoi(rep.GetInfrastructureId())
	if err != nil {
		t.Fatalf("infrastructure id %q is not a pid: %v", rep.GetInfrastructureId(), err)
	}
	return pid
}

// waitGone waits until no process has the given pid.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	poll(t, fmt.Sprintf("process %d to be gone", pid), func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	})
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", i+1)
	}
	return out
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	exit := func(code int32) *int32 { return &code }
	tests := []struct {
		name     string
		job      *ferryv1.JobSpec
		kinds    []ferryv1.ReportKind
		exitCode *int32
		message  string // a part of the final report's message
		lines    []string
	}{
		{
			name:     "completed with every line in order",
			job:      shell(`i=1; while [ $i -le 3000 ]; do echo "line $i"; i=$((i+1)); done`),
			kinds:    []ferryv1.ReportKind{started, completed},
			exitCode: exit(0),
			lines:    numbered(3000),
		},
		{
			name:     "failing command",
			job:      shell(`echo oops >&2; exit 3`),
			kinds:    []ferryv1.ReportKind{started, failed},
			exitCode: exit(3),
			lines:    []string{"oops"},
		},
		{
			name:    "command not found",
			job:     &ferryv1.JobSpec{Deployment: "test", Command: []string{"/nonexistent/ferry-test-command"}},
			kinds:   []ferryv1.ReportKind{failed},
			message: "launch failed",
		},
		{
			name: "timed out",
			job: &ferryv1.JobSpec{
				Deployment: "test",
				Command:    []string{"/bin/sleep", "30"},
				Timeout:    durationpb.New(200 * time.Millisecond),
			},
			kinds: []ferryv1.ReportKind{started, timedOut},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{})
			o := b.srv.Offer(t, tt.job)
			r := b.waitFinished(t, o.GetRunId())

			if diff := cmp.Diff(tt.kinds, r.Kinds()); diff != "" {
				t.Fatalf("report kinds (-want +got):\n%s", diff)
			}
			final := r.Reports[len(r.Reports)-1]
			if tt.exitCode != nil && (final.ExitCode == nil || *final.ExitCode != *tt.exitCode) {
				t.Errorf("exit code = %v, want %d", final.ExitCode, *tt.exitCode)
			}
			if !strings.Contains(final.GetMessage(), tt.message) {
				t.Errorf("message %q does not contain %q", final.GetMessage(), tt.message)
			}
			texts, gapless := r.Texts()
			if !gapless {
				t.Errorf("log seqs have gaps or repeats")
			}
			if tt.lines != nil {
				if diff := cmp.Diff(tt.lines, texts); diff != "" {
					t.Errorf("stored lines (-want +got):\n%s", diff)
				}
			}
			if r.Resent != 0 {
				t.Errorf("%d lines sent twice without a failure", r.Resent)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cancel func(t *testing.T, srv *agenttest.Server, runID string)
	}{
		{
			name: "on the stream",
			cancel: func(t *testing.T, srv *agenttest.Server, runID string) {
				srv.CancelOnStream(t, runID, "user asked")
			},
		},
		{
			name: "in a heartbeat",
			cancel: func(_ *testing.T, srv *agenttest.Server, runID string) {
				srv.CancelInHeartbeat(runID, "user asked")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{})
			o := b.srv.Offer(t, &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/sleep", "30"}})
			pid := b.waitStarted(t, o.GetRunId())

			tt.cancel(t, b.srv, o.GetRunId())
			r := b.waitFinished(t, o.GetRunId())
			if diff := cmp.Diff([]ferryv1.ReportKind{started, cancelled}, r.Kinds()); diff != "" {
				t.Errorf("report kinds (-want +got):\n%s", diff)
			}
			waitGone(t, pid)
		})
	}
}

func TestStreamDroppedMidRunLosesNoLine(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	const n = 400
	// Slow enough to outlive the reconnect, quick enough for a test.
	o := b.srv.Offer(t, shell(fmt.Sprintf(
		`i=1; while [ $i -le %d ]; do echo "line $i"; i=$((i+1)); if [ $((i %% 20)) -eq 0 ]; then sleep 0.05; fi; done`, n)))
	runID := o.GetRunId()
	b.srv.WaitFor(t, "some lines", func(s *agenttest.Server) bool { return len(s.Run(runID).Lines) >= 20 })

	// The next acknowledgements are lost and the stream drops: the agent
	// must resend what it cannot know was stored, and lose nothing.
	b.srv.LoseLogAcks(2)
	b.srv.DropStream()
	b.srv.WaitFor(t, "a new stream", func(s *agenttest.Server) bool { return s.Subscribes() >= 2 && s.Connected() })
	b.srv.WaitFor(t, "a heartbeat of the new session listing the run", func(s *agenttest.Server) bool {
		for _, hb := range s.Heartbeats() {
			if hb.GetSessionId() != s.Session() {
				continue
			}
			for _, l := range hb.GetLive() {
				if l.GetRunId() == runID {
					return true
				}
			}
		}
		return false
	})

	r := b.waitFinished(t, runID)
	if diff := cmp.Diff([]ferryv1.ReportKind{started, completed}, r.Kinds()); diff != "" {
		t.Errorf("report kinds (-want +got):\n%s", diff)
	}
	texts, gapless := r.Texts()
	if !gapless {
		t.Error("log seqs have gaps or repeats")
	}
	if diff := cmp.Diff(numbered(n), texts); diff != "" {
		t.Errorf("stored lines (-want +got):\n%s", diff)
	}
	if r.Resent == 0 {
		t.Error("no line was resent after lost acknowledgements")
	}
}

func TestLeaseLoss(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server agenttest.Options
		lose   func(srv *agenttest.Server, runID string)
	}{
		{
			name: "listed lost in a heartbeat",
			lose: func(srv *agenttest.Server, runID string) { srv.Expire(runID) },
		},
		{
			// The control plane still holds the lease; the agent must fence
			// itself when it cannot renew it.
			name:   "heartbeats fail past the lease",
			server: agenttest.Options{LeaseDuration: 500 * time.Millisecond},
			lose: func(srv *agenttest.Server, _ string) {
				srv.Fail("Heartbeat", connect.CodeUnavailable, -1)
			},
		},
		{
			// A heartbeat answered resubscribe renews nothing; the agent
			// cannot get a new session, so its lease runs out.
			name:   "heartbeats answered resubscribe past the lease",
			server: agenttest.Options{LeaseDuration: 500 * time.Millisecond},
			lose: func(srv *agenttest.Server, _ string) {
				srv.Fail("Subscribe", connect.CodeUnavailable, -1)
				srv.ForgetSession()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{server: tt.server})
			o := b.srv.Offer(t, &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/sleep", "30"}})
			pid := b.waitStarted(t, o.GetRunId())

			tt.lose(b.srv, o.GetRunId())
			b.waitIdle(t)
			waitGone(t, pid)
			if diff := cmp.Diff([]ferryv1.ReportKind{started}, b.run(o.GetRunId()).Kinds()); diff != "" {
				t.Errorf("report kinds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopAnswerStopsRun(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{server: agenttest.Options{RefuseReports: true}})
	marker := filepath.Join(t.TempDir(), "still-running")
	o := b.srv.Offer(t, shell(`sleep 2; touch `+marker+`; sleep 30`))
	b.srv.WaitFor(t, "the claim", func(s *agenttest.Server) bool { return s.Run(o.GetRunId()).Claimed })
	b.waitIdle(t)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run went on after its STARTED report was answered stop (stat: %v)", err)
	}
}

func TestClaimedRunWithExpiredLeaseIsNotLaunched(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{server: agenttest.Options{
		LeaseDuration: 200 * time.Millisecond,
		ClaimDelay:    400 * time.Millisecond,
	}})
	marker := filepath.Join(t.TempDir(), "launched")
	o := b.srv.Offer(t, shell(`touch `+marker))
	b.srv.WaitFor(t, "the claim", func(s *agenttest.Server) bool { return s.Run(o.GetRunId()).Claimed })
	b.waitIdle(t)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run whose lease had expired was launched (stat: %v)", err)
	}
	if r := b.run(o.GetRunId()); len(r.Reports) != 0 {
		t.Errorf("reports %v for a run never launched", r.Kinds())
	}
}

func TestCapacityIsRespected(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{
		server: agenttest.Options{Redispatch: true},
		config: supervisor.Config{Capacity: 2},
	})
	jobs := make([]*ferryv1.JobSpec, 5)
	for i := range jobs {
		jobs[i] = &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/sleep", "0.2"}}
	}
	orders := b.srv.OfferAll(t, jobs...)
	for _, o := range orders {
		r := b.waitFinished(t, o.GetRunId())
		if diff := cmp.Diff([]ferryv1.ReportKind{started, completed}, r.Kinds()); diff != "" {
			t.Errorf("run %s report kinds (-want +got):\n%s", o.GetRunId(), diff)
		}
	}
	b.srv.Inspect(func(s *agenttest.Server) {
		if s.MaxLive() != 2 {
			t.Errorf("at most %d runs held at once, want 2", s.MaxLive())
		}
		for _, hb := range s.Heartbeats() {
			if len(hb.GetLive()) > 2 {
				t.Errorf("heartbeat lists %d live runs, capacity is 2", len(hb.GetLive()))
			}
		}
	})
}

func TestRevokedTokenStopsTheAgent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	o := b.srv.Offer(t, &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/sleep", "30"}})
	pid := b.waitStarted(t, o.GetRunId())

	b.srv.Revoke()
	if err := b.wait(t); !errors.Is(err, conn.ErrUnauthorized) {
		t.Fatalf("Run returned %v, want an error wrapping conn.ErrUnauthorized", err)
	}
	waitGone(t, pid)
}

func TestStartupFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts setupOptions
		want error
	}{
		{
			name: "wrong token",
			opts: setupOptions{token: "not-the-token", noWait: true},
			want: conn.ErrUnauthorized,
		},
		{
			name: "unsupported pool type",
			opts: setupOptions{server: agenttest.Options{PoolType: "ecs"}, noWait: true},
			want: supervisor.ErrUnsupportedPool,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts)
			if err := b.wait(t); !errors.Is(err, tt.want) {
				t.Fatalf("Run returned %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		grace time.Duration
		// release lets the run end on its own within the grace; otherwise it
		// runs until the agent stops it.
		release bool
		kinds   []ferryv1.ReportKind
	}{
		{
			name:    "runs finish within the grace",
			grace:   20 * time.Second,
			release: true,
			kinds:   []ferryv1.ReportKind{started, completed},
		},
		{
			name:  "runs stopped after the grace",
			grace: 100 * time.Millisecond,
			kinds: []ferryv1.ReportKind{started, crashed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{config: supervisor.Config{ShutdownGrace: tt.grace}})
			gate := filepath.Join(t.TempDir(), "gate")
			o := b.srv.Offer(t, shell(`while [ ! -e `+gate+` ]; do sleep 0.02; done`))
			pid := b.waitStarted(t, o.GetRunId())

			b.shutdown()
			b.srv.WaitFor(t, "a draining heartbeat", func(s *agenttest.Server) bool {
				hbs := s.Heartbeats()
				return len(hbs) > 0 && hbs[len(hbs)-1].GetDraining()
			})
			// An order offered while draining is not taken. In the second case
			// the agent may be gone already; then there is nothing to offer on.
			var late *ferryv1.WorkOrder
			if tt.release {
				late = b.srv.Offer(t, &ferryv1.JobSpec{Deployment: "test", Command: []string{"/bin/true"}})
				if err := os.WriteFile(gate, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.wait(t); err != nil {
				t.Fatalf("Run returned %v, want nil", err)
			}
			if diff := cmp.Diff(tt.kinds, b.run(o.GetRunId()).Kinds()); diff != "" {
				t.Errorf("report kinds (-want +got):\n%s", diff)
			}
			if late != nil && b.run(late.GetRunId()).Claimed {
				t.Error("a run offered while draining was claimed")
			}
			waitGone(t, pid)
		})
	}
}
