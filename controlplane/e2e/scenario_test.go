package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// shortLease is the lease of the binary tests that wait for one to expire.
const shortLease = 3 * time.Second

// steadyLease is the lease of the binary tests that must not lose one
// while the race detector slows everything down.
const steadyLease = 10 * time.Second

// poolYAML declares the process pool every binary test uses.
const poolYAML = `
pools:
  - name: local
    type: process
`

// runID parses the run id ferry run start prints on its first line.
func runID(t *testing.T, stdout string) string {
	t.Helper()
	first, _, _ := strings.Cut(stdout, "\n")
	if _, err := uuid.Parse(first); err != nil {
		t.Fatalf("ferry run start printed %q first, want a run id", first)
	}
	return first
}

// numbered returns "line 1" .. "line n".
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", i+1)
	}
	return out
}

// waitRun waits until run id is in state and returns it.
func waitRun(t *testing.T, c clients, id string, state ferryv1.RunState) *ferryv1.Run {
	t.Helper()
	var r *ferryv1.Run
	eventually(t, "run "+id+" becomes "+state.String(), func() error {
		resp, err := c.runs.GetRun(callCtx(t), connect.NewRequest(&ferryv1.GetRunRequest{Id: id}))
		if err != nil {
			return err
		}
		r = resp.Msg.GetRun()
		if r.GetState() != state {
			return fmt.Errorf("run is %v (%s): %s", r.GetState(), r.GetStateName(), r.GetStateMessage())
		}
		return nil
	})
	return r
}

// readPid waits for a command to write its pid to path and returns it.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, "the run writes its pid", func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

func TestBinaryRunCompletes(t *testing.T) {
	t.Parallel()
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: count
    pool: local
    command: [sh, -c, 'for i in $(seq 1 {{ .n }}); do echo "line $i"; done']
`)
	rp.startAgent(t, "local", "agent-1", 2)

	out, errOut, code := rp.cli(t, "run", "start", "count", "-p", "n=200", "--watch")
	if code != 0 {
		t.Fatalf("ferry run start --watch exited %d, want 0:\n%s%s", code, out, errOut)
	}
	id := runID(t, out)
	for _, want := range []string{"==> COMPLETED", "line 1\n", "line 200\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch output lacks %q:\n%s", want, out)
		}
	}
	if err := invariant.CheckLogs(callCtx(t), rp.q, uuid.MustParse(id), 1, numbered(200)); err != nil {
		t.Error(err)
	}
	r := waitRun(t, rp.api(t), id, completed)
	if r.GetExitCode() != 0 || r.ExitCode == nil || r.GetInfrastructureId() == "" {
		t.Errorf("run exit code %v, infrastructure id %q; want 0 and a process id", r.ExitCode, r.GetInfrastructureId())
	}
}

func TestBinaryRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	const delay = time.Second
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: flaky
    pool: local
    command: [sh, -c, 'echo "attempt $FERRY_ATTEMPT"; exit 3']
    retries: 2
    retry_delay: 1s
`)
	rp.startAgent(t, "local", "agent-1", 1)

	out, errOut, code := rp.cli(t, "run", "start", "flaky", "--watch")
	if code != 1 {
		t.Fatalf("ferry run start --watch of a failing run exited %d, want 1:\n%s%s", code, out, errOut)
	}
	id := runID(t, out)
	c := rp.api(t)
	r := waitRun(t, c, id, failed)
	if r.GetAttempt() != 3 || r.GetMaxAttempts() != 3 || r.GetStateName() != "Failed" || r.GetExitCode() != 3 {
		t.Errorf("run ended attempt %d/%d named %s exit %d, want attempt 3/3 named Failed exit 3",
			r.GetAttempt(), r.GetMaxAttempts(), r.GetStateName(), r.GetExitCode())
	}
	for attempt := int32(1); attempt <= 3; attempt++ {
		if err := invariant.CheckLogs(callCtx(t), rp.q, uuid.MustParse(id), attempt, []string{fmt.Sprintf("attempt %d", attempt)}); err != nil {
			t.Error(err)
		}
	}

	// Each attempt after the first was claimed no sooner than its backoff
	// (doubling from 1s, jittered by at most 20%) after the failure.
	resp, err := c.runs.ListRunStateChanges(callCtx(t), connect.NewRequest(&ferryv1.ListRunStateChangesRequest{Id: id}))
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	var failedAt time.Time
	claims := 0
	for _, ch := range resp.Msg.GetChanges() {
		switch {
		case ch.GetToState() == failed:
			failedAt = ch.GetTime().AsTime()
		case ch.GetToState() == pending:
			claims++
			if ch.GetAttempt() == 1 {
				continue
			}
			min := (delay << (ch.GetAttempt() - 2)) * 4 / 5
			if waited := ch.GetTime().AsTime().Sub(failedAt); waited < min {
				t.Errorf("attempt %d claimed %v after the failure, want at least %v", ch.GetAttempt(), waited, min)
			}
		}
	}
	if claims != 3 {
		t.Errorf("%d claims in the history, want 3", claims)
	}
}

func TestBinaryCancelStopsProcessGroup(t *testing.T) {
	t.Parallel()
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: sleeper
    pool: local
    command: [sh, -c, 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0"; sleep 300 & sleep 300 & wait', '{{ .pidfile }}']
`)
	rp.startAgent(t, "local", "agent-1", 1)
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := runID(t, rp.mustCLI(t, "run", "start", "sleeper", "-p", "pidfile="+pidFile))
	c := rp.api(t)
	waitRun(t, c, id, running)
	// The shell leads the run's process group, so its pid is the group id.
	pgid := readPid(t, pidFile)
	if err := syscall.Kill(-pgid, 0); err != nil {
		t.Fatalf("the run's process group %d is not alive before the cancel: %v", pgid, err)
	}

	rp.mustCLI(t, "run", "cancel", id, "--reason", "e2e")
	r := waitRun(t, c, id, cancelled)
	if r.GetStateName() != "Cancelled" {
		t.Errorf("cancelled run named %q", r.GetStateName())
	}
	eventually(t, "the run's process group is gone", func() error {
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill(-%d, 0) = %v, want ESRCH", pgid, err)
		}
		return nil
	})
}

func TestBinaryTimeout(t *testing.T) {
	t.Parallel()
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: slow
    pool: local
    command: [sleep, "300"]
    timeout: 1s
`)
	rp.startAgent(t, "local", "agent-1", 1)
	out, errOut, code := rp.cli(t, "run", "start", "slow", "--watch")
	if code != 1 {
		t.Fatalf("ferry run start --watch of a timed-out run exited %d, want 1:\n%s%s", code, out, errOut)
	}
	r := waitRun(t, rp.api(t), runID(t, out), failed)
	if r.GetStateName() != "TimedOut" {
		t.Errorf("timed-out run is FAILED named %q, want TimedOut", r.GetStateName())
	}
}

func TestBinaryAgentKilled(t *testing.T) {
	t.Parallel()
	rp := startRealPlane(t, shortLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: sleeper
    pool: local
    command: [sh, -c, 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 300', '{{ .pidfile }}']
`)
	agent := rp.startAgent(t, "local", "agent-1", 1)
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := runID(t, rp.mustCLI(t, "run", "start", "sleeper", "-p", "pidfile="+pidFile))
	c := rp.api(t)
	waitRun(t, c, id, running)
	pgid := readPid(t, pidFile)

	agent.kill(t)
	r := waitRun(t, c, id, crashed)
	if !strings.Contains(r.GetStateMessage(), "lease expired") {
		t.Errorf("crashed run's message %q does not say the lease expired", r.GetStateMessage())
	}
	// The run's process dies with its agent.
	eventually(t, "the run's process is gone", func() error {
		if groupAlive(t, pgid) {
			return fmt.Errorf("process group %d is alive", pgid)
		}
		return nil
	})
}

func TestBinaryControlPlaneRestart(t *testing.T) {
	t.Parallel()
	const lines = 80
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: ticker
    pool: local
    command: [sh, -c, 'for i in $(seq 1 {{ .n }}); do echo "line $i"; sleep 0.1; done']
`)
	agent := rp.startAgent(t, "local", "agent-1", 1)
	id := runID(t, rp.mustCLI(t, "run", "start", "ticker", "-p", fmt.Sprintf("n=%d", lines)))
	runUUID := uuid.MustParse(id)

	// Kill the control plane three times while the run prints, each time
	// once more of its lines are stored, and start it again.
	for _, stored := range []int{5, 20, 35} {
		eventually(t, fmt.Sprintf("%d lines are stored", stored), func() error {
			got, err := rp.q.LogLinesListAll(context.Background(), runUUID)
			if err != nil {
				return err
			}
			if len(got) < stored {
				return fmt.Errorf("%d lines stored", len(got))
			}
			return nil
		})
		rp.server.kill(t)
		rp.start(t)
	}

	waitRun(t, rp.api(t), id, completed)
	if err := invariant.CheckLogs(callCtx(t), rp.q, runUUID, 1, numbered(lines)); err != nil {
		t.Error(err)
	}
	if agent.exited() {
		t.Errorf("the agent exited across the control-plane restart: %v", agent.err)
	}
}

func TestBinaryTwoAgentsRunEachOnce(t *testing.T) {
	t.Parallel()
	const runs = 50
	rp := startRealPlane(t, steadyLease)
	shared := filepath.Join(t.TempDir(), "executions")
	rp.apply(t, poolYAML+fmt.Sprintf(`
deployments:
  - name: mark
    pool: local
    command: [sh, -c, 'echo "$FERRY_RUN_ID" >> %s']
`, shared))
	rp.startAgent(t, "local", "agent-1", 5)
	rp.startAgent(t, "local", "agent-2", 5)

	c := rp.api(t)
	req := &ferryv1.CreateRunsRequest{}
	for range runs {
		req.Runs = append(req.Runs, &ferryv1.RunTemplate{Deployment: "mark"})
	}
	resp, err := c.runs.CreateRuns(callCtx(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("create runs: %v", err)
	}
	var want []string
	for _, r := range resp.Msg.GetRuns() {
		want = append(want, r.GetId())
	}
	eventually(t, "every run completes", func() error {
		list, err := c.runs.ListRuns(callCtx(t), connect.NewRequest(&ferryv1.ListRunsRequest{PageSize: 1000}))
		if err != nil {
			return err
		}
		done := 0
		for _, r := range list.Msg.GetRuns() {
			switch r.GetState() {
			case completed:
				done++
			case failed, crashed, cancelled:
				t.Fatalf("run %s ended %v: %s", r.GetId(), r.GetState(), r.GetStateMessage())
			}
		}
		if done != runs {
			return fmt.Errorf("%d of %d runs completed", done, runs)
		}
		return nil
	})

	b, err := os.ReadFile(shared)
	if err != nil {
		t.Fatalf("read executions: %v", err)
	}
	got := strings.Fields(string(b))
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("executed run ids (-want +got), each must appear exactly once:\n%s", diff)
	}
}

func TestBinaryRunStartExitCodes(t *testing.T) {
	t.Parallel()
	rp := startRealPlane(t, steadyLease)
	rp.apply(t, poolYAML+`
deployments:
  - name: ok
    pool: local
    command: ["true"]
  - name: fails
    pool: local
    command: ["false"]
`)
	rp.startAgent(t, "local", "agent-1", 2)
	tests := []struct {
		name string
		args []string
		code int
		// stderr is a part of the error output, when one is expected.
		stderr string
	}{
		{"completed", []string{"run", "start", "ok", "--watch"}, 0, ""},
		{"failed", []string{"run", "start", "fails", "--watch"}, 1, "FAILED"},
		{"unknown deployment", []string{"run", "start", "nowhere", "--watch"}, 1, "nowhere"},
		{"no deployment given", []string{"run", "start", "--watch"}, 2, "DEPLOYMENT"},
		{"bad parameter", []string{"run", "start", "ok", "-p", "novalue"}, 2, "novalue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := rp.cli(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q does not mention %q", errOut, tt.stderr)
			}
		})
	}
}
