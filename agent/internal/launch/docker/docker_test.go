package docker_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/docker"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/internal/dockertest"
)

// waitBound is the generous limit on anything a test waits for.
const waitBound = 60 * time.Second

// payloadImage is the tag of the image built from dockertest's payload.
const payloadImage = "ferry-test/payload:1"

// bundle holds what a test needs besides the launcher.
type bundle struct {
	engine *dockertest.Engine
	cli    *client.Client
	agent  string
	bin    string // the payload's path in payloadImage
}

// setup returns a launcher for the shared engine under an agent name of the
// test's own, so that tests running side by side never see each other's
// containers.
func setup(t *testing.T, cfg docker.Config) (*docker.Launcher, bundle) {
	t.Helper()
	e := dockertest.Start(t)
	b := bundle{engine: e, cli: e.Client(), agent: agentName(t)}
	b.bin = e.BuildImage(t, payloadImage, dockertest.PayloadPackage)
	cfg.Client = e.Client()
	cfg.AgentName = b.agent
	l, err := docker.New(cfg)
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { removeAgentContainers(t, b) })
	return l, b
}

// job returns a job running the payload with args.
func (b bundle) job(args ...string) launch.Job {
	return launch.Job{
		RunID:   "run-" + b.agent,
		Attempt: 1,
		Image:   payloadImage,
		Command: append([]string{b.bin}, args...),
	}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func agentName(t *testing.T) string {
	return "test-" + strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "-"))
}

// removeAgentContainers removes whatever containers a test left behind.
func removeAgentContainers(t *testing.T, b bundle) {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	list, err := b.cli.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", "ferry.agent="+b.agent)),
	})
	if err != nil {
		t.Errorf("list containers: %v", err)
		return
	}
	for _, c := range list {
		if err := b.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	}
}

// sink records the lines it is given.
type sink struct {
	mu    sync.Mutex
	lines []launch.LogLine
}

func (s *sink) Line(l launch.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
}

func (s *sink) all() []launch.LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

func (s *sink) texts(stream launch.Stream) []string {
	var out []string
	for _, l := range s.all() {
		if l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

func start(t *testing.T, l *docker.Launcher, job launch.Job) (launch.Handle, *sink) {
	t.Helper()
	s := &sink{}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	h, err := l.Start(ctx, job, s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h, s
}

func wait(t *testing.T, h launch.Handle) launch.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	out, err := h.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return out
}

// waitUntil polls cond until it holds, failing t after waitBound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRemoved fails t unless the container no longer exists.
func checkRemoved(t *testing.T, cli *client.Client, id string) {
	t.Helper()
	_, err := cli.ContainerInspect(context.Background(), id)
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect container %s after the run: err = %v, want not found (removed)", id, err)
	}
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, prefix+" "+strconv.Itoa(i))
	}
	return out
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        docker.Config
		args       []string
		edit       func(*launch.Job)
		wantStdout []string
		wantStderr []string
		anyStdout  bool // stdout is not checked
		want       launch.Outcome
	}{
		{
			name:       "lines in order on both streams",
			args:       []string{"-stdout=5", "-stderr=3", "-interval=10ms"},
			wantStdout: numbered("out", 1, 5),
			wantStderr: numbered("err", 1, 3),
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "every line of a large output",
			args:       []string{"-stdout=5000", "-stderr=5000"},
			wantStdout: numbered("out", 1, 5000),
			wantStderr: numbered("err", 1, 5000),
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			// The engine cuts lines longer than 16 KiB into several log
			// entries; they are joined again.
			name:       "line longer than the engine's log entries",
			cfg:        docker.Config{MaxLineBytes: 100_000},
			args:       []string{"-long=40000", "-stdout=1"},
			wantStdout: []string{"out 1", strings.Repeat("x", 40000)},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "long line truncated with a marker",
			cfg:        docker.Config{MaxLineBytes: 1000},
			args:       []string{"-long=40000", "-stdout=1"},
			wantStdout: []string{"out 1", strings.Repeat("x", 1000) + "… [truncated 39000 bytes]"},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "non-zero exit",
			args:       []string{"-stdout=1", "-exit=3"},
			wantStdout: numbered("out", 1, 1),
			want:       launch.Outcome{ExitCode: 3, Kind: launch.OutcomeFailed, Message: "exited with code 3"},
		},
		{
			name: "out of memory",
			args: []string{"-oom"},
			edit: func(j *launch.Job) { j.Container.MemoryBytes = 32 << 20 },
			// The allocator reports progress until it is killed; how far it
			// gets is up to the kernel.
			anyStdout: true,
			want: launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed,
				Message: "out of memory: the container exceeded its memory limit of 32 MiB"},
		},
		{
			name: "parameters rendered into arguments",
			args: []string{"-args", "{{ .n }}", "{{.s}}", "{{ .o }}"},
			edit: func(j *launch.Job) {
				j.ParametersJSON = `{"n": 9007199254740993, "s": "a b", "o": {"k": [1, 2]}}`
			},
			wantStdout: []string{"9007199254740993", "a b", `{"k":[1,2]}`},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, b := setup(t, tt.cfg)
			job := b.job(tt.args...)
			if tt.edit != nil {
				tt.edit(&job)
			}
			before := time.Now()
			h, s := start(t, l, job)
			got := wait(t, h)
			after := time.Now()

			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			stdout := s.texts(launch.StreamStdout)
			if tt.anyStdout {
				stdout = nil
			}
			if diff := gocmp.Diff(tt.wantStdout, stdout); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.wantStderr, s.texts(launch.StreamStderr)); diff != "" {
				t.Errorf("stderr mismatch (-want +got):\n%s", diff)
			}
			if sys := s.texts(launch.StreamSystem); len(sys) > 0 {
				t.Errorf("system lines = %q, want none", sys)
			}
			checkLineTimes(t, s.all(), before, after)
			checkRemoved(t, b.cli, h.InfrastructureID())
		})
	}
}

// checkLineTimes checks that output lines carry the engine's timestamps:
// within the run, and never going back on one stream.
func checkLineTimes(t *testing.T, lines []launch.LogLine, before, after time.Time) {
	t.Helper()
	last := map[launch.Stream]time.Time{}
	for _, l := range lines {
		if l.Stream == launch.StreamSystem {
			continue
		}
		if l.Time.Before(before) || l.Time.After(after) {
			t.Errorf("line %q: time %v outside the run [%v, %v]", l.Text, l.Time, before, after)
			return
		}
		if l.Time.Before(last[l.Stream]) {
			t.Errorf("line %q: time %v before the previous line's %v", l.Text, l.Time, last[l.Stream])
			return
		}
		last[l.Stream] = l.Time
	}
}

func TestEnvironment(t *testing.T) {
	// Not parallel: it sets a variable in the agent's own environment to show
	// that it does not reach the container.
	t.Setenv("FERRY_TEST_AGENT_SECRET", "must not leak")
	l, b := setup(t, docker.Config{})
	job := b.job("-env")
	job.Attempt = 2
	job.ParametersJSON = `{"n": 9007199254740993, "s": "x y"}`
	job.Env = map[string]string{
		"GREETING":      "hello world",
		"DB_PASSWORD":   "resolved secret",
		"FERRY_ATTEMPT": "99",
	}
	h, s := start(t, l, job)
	if got := wait(t, h); got.Kind != launch.OutcomeSucceeded {
		t.Fatalf("outcome = %+v, want Succeeded", got)
	}

	var env []string
	for _, kv := range s.texts(launch.StreamStdout) {
		if strings.HasPrefix(kv, "HOSTNAME=") {
			continue // the engine's, and different for every container
		}
		env = append(env, kv)
	}
	want := []string{
		"DB_PASSWORD=resolved secret",
		"FERRY_ATTEMPT=2",
		`FERRY_PARAMETERS={"n": 9007199254740993, "s": "x y"}`,
		"FERRY_RUN_ID=" + job.RunID,
		"GREETING=hello world",
		"HOME=/",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if diff := gocmp.Diff(want, env); diff != "" {
		t.Errorf("container environment mismatch (-want +got):\n%s", diff)
	}
}

func TestContainerSettings(t *testing.T) {
	t.Parallel()
	l, b := setup(t, docker.Config{})
	mountDir := t.TempDir()
	job := b.job("-stdout=1")
	job.Attempt = 3
	job.DeploymentName = "nightly-etl"
	job.LeaseToken = 42
	job.Timeout = 90 * time.Minute
	job.StopGrace = 1500 * time.Millisecond
	job.WorkingDir = "/work"
	job.Container = launch.Container{
		User:        "1234:5678",
		MilliCPUs:   250,
		MemoryBytes: 64 << 20,
		Network:     "none",
		Mounts:      []launch.Mount{{Source: mountDir, Target: "/data", ReadOnly: true}},
		Labels:      map[string]string{"team": "data", "cost-centre": "42"},
		// Kept, so that it can be inspected after the run.
		KeepContainer: true,
	}
	h, _ := start(t, l, job)
	if got := wait(t, h); got.Kind != launch.OutcomeSucceeded {
		t.Fatalf("outcome = %+v, want Succeeded", got)
	}

	info, err := b.cli.ContainerInspect(context.Background(), h.InfrastructureID())
	if err != nil {
		t.Fatalf("inspect kept container: %v", err)
	}
	wantLabels := map[string]string{
		"team":                 "data",
		"cost-centre":          "42",
		"ferry.run_id":         job.RunID,
		"ferry.attempt":        "3",
		"ferry.agent":          b.agent,
		"ferry.lease_token":    "42",
		"ferry.timeout_ms":     "5400000",
		"ferry.stop_grace_ms":  "1500",
		"ferry.keep_container": "true",
		"ferry.deployment":     "nightly-etl",
	}
	if diff := gocmp.Diff(wantLabels, info.Config.Labels); diff != "" {
		t.Errorf("labels mismatch (-want +got):\n%s", diff)
	}
	type settings struct {
		Name                  string
		Entrypoint, Cmd       []string
		User, WorkingDir      string
		StopTimeout           int
		NanoCPUs, Memory, Swp int64
		Network, LogDriver    string
		Privileged            bool
		Mounts                []string
	}
	got := settings{
		Name:       info.Name,
		Entrypoint: info.Config.Entrypoint,
		Cmd:        info.Config.Cmd,
		User:       info.Config.User,
		WorkingDir: info.Config.WorkingDir,
		NanoCPUs:   info.HostConfig.NanoCPUs,
		Memory:     info.HostConfig.Memory,
		Swp:        info.HostConfig.MemorySwap,
		Network:    string(info.HostConfig.NetworkMode),
		LogDriver:  info.HostConfig.LogConfig.Type,
		Privileged: info.HostConfig.Privileged,
	}
	if info.Config.StopTimeout != nil {
		got.StopTimeout = *info.Config.StopTimeout
	}
	for _, m := range info.HostConfig.Mounts {
		got.Mounts = append(got.Mounts, fmt.Sprintf("%s %s:%s ro=%v", m.Type, m.Source, m.Target, m.ReadOnly))
	}
	want := settings{
		Name:        "/ferry-" + job.RunID + "-3",
		Entrypoint:  []string{b.bin},
		Cmd:         []string{"-stdout=1"},
		User:        "1234:5678",
		WorkingDir:  "/work",
		StopTimeout: 2, // 1.5 s rounded up to the engine's whole seconds
		NanoCPUs:    250_000_000,
		Memory:      64 << 20,
		Swp:         64 << 20,
		Network:     "none",
		LogDriver:   "json-file",
		Mounts:      []string{"bind " + mountDir + ":/data ro=true"},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("container settings mismatch (-want +got):\n%s", diff)
	}

	// A kept container stays until Remove, which takes only this agent's.
	other, err := docker.New(docker.Config{Client: b.cli, AgentName: b.agent + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Remove(context.Background(), h.InfrastructureID()); err == nil {
		t.Errorf("Remove by another agent: err = nil, want an error")
	}
	if err := l.Remove(context.Background(), h.InfrastructureID()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	checkRemoved(t, b.cli, h.InfrastructureID())
	if err := l.Remove(context.Background(), h.InfrastructureID()); err != nil {
		t.Errorf("Remove of a removed container: %v, want nil", err)
	}
}

func TestStartRefusesJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(j *launch.Job)
		wantErr string
	}{
		{
			name:    "image missing under pull policy never",
			edit:    func(j *launch.Job) { j.Image = "ferry-test/absent:1"; j.Container.PullPolicy = launch.PullNever },
			wantErr: "image ferry-test/absent:1 is not present and pull policy is never",
		},
		{
			name:    "invalid image reference",
			edit:    func(j *launch.Job) { j.Image = "Not/A Valid:Ref" },
			wantErr: `image "Not/A Valid:Ref"`,
		},
		{
			name:    "program not in the image",
			edit:    func(j *launch.Job) { j.Command = []string{"/no/such/program"} },
			wantErr: "/no/such/program",
		},
		{
			name:    "unknown user",
			edit:    func(j *launch.Job) { j.Container.User = "nobody" },
			wantErr: "unable to find user nobody",
		},
		{
			name:    "unknown network",
			edit:    func(j *launch.Job) { j.Container.Network = "no-such-network" },
			wantErr: "network no-such-network not found",
		},
		{
			name:    "missing mount source",
			edit:    func(j *launch.Job) { j.Container.Mounts = []launch.Mount{{Source: "/no/such/dir", Target: "/data"}} },
			wantErr: "/no/such/dir",
		},
		{
			name:    "memory limit below the engine's minimum",
			edit:    func(j *launch.Job) { j.Container.MemoryBytes = 1000 },
			wantErr: "Minimum memory limit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, b := setup(t, docker.Config{})
			job := b.job("-stdout=1")
			tt.edit(&job)
			h, err := l.Start(context.Background(), job, &sink{})
			if err == nil {
				wait(t, h)
				t.Fatalf("Start: err = nil, want one wrapping ErrInvalidJob")
			}
			if !errors.Is(err, launch.ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start: err = %v, want one wrapping ErrInvalidJob containing %q", err, tt.wantErr)
			}
			survivors, err := l.Survivors(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(survivors) != 0 {
				t.Errorf("containers left after a refused start: %+v", survivors)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		stop       func(t *testing.T, h launch.Handle, clk *clock.Fake)
		wantKind   launch.OutcomeKind
		wantMsg    string
		wantCode   int32
		wantKilled bool // SIGKILL after the grace
	}{
		{
			name: "cancel of a container ignoring SIGTERM",
			args: []string{"-ignore-term", "-sleep=1h"},
			stop: func(t *testing.T, h launch.Handle, _ *clock.Fake) {
				if err := h.Cancel(context.Background(), "stopped by alice"); err != nil {
					t.Fatalf("Cancel: %v", err)
				}
			},
			wantKind:   launch.OutcomeCancelled,
			wantMsg:    "cancelled: stopped by alice",
			wantCode:   137,
			wantKilled: true,
		},
		{
			name: "cancel of a container that stops on SIGTERM",
			args: []string{"-sleep=1h"},
			stop: func(t *testing.T, h launch.Handle, _ *clock.Fake) {
				if err := h.Cancel(context.Background(), ""); err != nil {
					t.Fatalf("Cancel: %v", err)
				}
			},
			wantKind: launch.OutcomeCancelled,
			wantMsg:  "cancelled",
			wantCode: 143,
		},
		{
			name:     "timeout",
			args:     []string{"-sleep=1h"},
			stop:     func(t *testing.T, _ launch.Handle, clk *clock.Fake) { clk.Advance(5 * time.Minute) },
			wantKind: launch.OutcomeTimedOut,
			wantMsg:  "timed out after 5m0s",
			wantCode: 143,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2025, 3, 30, 0, 59, 0, 0, time.UTC))
			l, b := setup(t, docker.Config{Clock: clk})
			job := b.job(append([]string{"-stdout=1"}, tt.args...)...)
			job.Timeout = 5 * time.Minute
			const grace = 2 * time.Second
			job.StopGrace = grace
			h, s := start(t, l, job)
			// Stop only once the payload runs, so that SIGTERM finds it
			// ready (ignoring it, if asked to).
			waitUntil(t, "payload's first line", func() bool { return len(s.texts(launch.StreamStdout)) > 0 })
			tt.stop(t, h, clk)
			got := wait(t, h)

			want := launch.Outcome{ExitCode: tt.wantCode, Kind: tt.wantKind, Message: tt.wantMsg}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			wantSystem := []string{fmt.Sprintf("%s: stopping container %s: stop signal now, SIGKILL in 2s if still running",
				tt.wantMsg, h.InfrastructureID()[:12])}
			if diff := gocmp.Diff(wantSystem, s.texts(launch.StreamSystem)); diff != "" {
				t.Errorf("system lines mismatch (-want +got):\n%s", diff)
			}
			checkRemoved(t, b.cli, h.InfrastructureID())

			// The engine's own record shows when it sent each signal and when
			// the container died.
			term, kill, die := signalTimes(t, b.cli, h.InfrastructureID())
			if term.IsZero() || die.IsZero() {
				t.Fatalf("engine events: SIGTERM at %v, death at %v; want both", term, die)
			}
			if tt.wantKilled {
				if kill.IsZero() {
					t.Fatalf("engine events: no SIGKILL")
				}
				if lived := die.Sub(term); lived < grace {
					t.Errorf("container died %s after SIGTERM, want at least the grace %s", lived, grace)
				}
			} else if !kill.IsZero() {
				t.Errorf("engine events: SIGKILL sent %s after SIGTERM, want none", kill.Sub(term))
			}
		})
	}
}

// signalTimes returns when the engine sent the container SIGTERM and SIGKILL
// and when the container died, from the engine's event log; zero for what
// did not happen.
func signalTimes(t *testing.T, cli *client.Client, id string) (term, kill, die time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	msgs, errs := cli.Events(ctx, events.ListOptions{
		Since:   "0",
		Until:   strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: filters.NewArgs(filters.Arg("container", id)),
	})
	for {
		select {
		case m := <-msgs:
			at := time.Unix(0, m.TimeNano)
			switch {
			case m.Action == events.ActionKill && m.Actor.Attributes["signal"] == "15" && term.IsZero():
				term = at
			case m.Action == events.ActionKill && m.Actor.Attributes["signal"] == "9" && kill.IsZero():
				kill = at
			case m.Action == events.ActionDie:
				die = at
			}
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) && err.Error() != "EOF" {
				t.Fatalf("read engine events: %v", err)
			}
			return term, kill, die
		}
	}
}

func TestCancelAfterEnd(t *testing.T) {
	t.Parallel()
	l, b := setup(t, docker.Config{})
	h, _ := start(t, l, b.job("-exit=2"))
	got := wait(t, h)
	if err := h.Cancel(context.Background(), "too late"); err != nil {
		t.Fatalf("Cancel after the end: %v", err)
	}
	want := launch.Outcome{ExitCode: 2, Kind: launch.OutcomeFailed, Message: "exited with code 2"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
	if again := wait(t, h); again != got {
		t.Errorf("second Wait = %+v, want %+v", again, got)
	}
}

// helperAgent runs the test binary as a stand-in agent that starts job; it
// returns the agent's process and a scanner of what it prints.
func helperAgent(t *testing.T, b bundle, job launch.Job) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	jobJSON, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(os.Args[0], "-test.run=^$")
	agent.Env = append(os.Environ(), helperEnv+"=1", helperHostEnv+"="+b.engine.Host(),
		helperAgentEnv+"="+b.agent, helperJobEnv+"="+string(jobJSON))
	agent.Stderr = os.Stderr
	stdin, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatalf("start helper agent: %v", err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
	})
	return agent, bufio.NewScanner(stdout)
}

// killAgent kills the helper agent, as a crash would.
func killAgent(t *testing.T, agent *exec.Cmd) {
	t.Helper()
	if err := agent.Process.Kill(); err != nil {
		t.Fatalf("kill helper agent: %v", err)
	}
	_ = agent.Wait()
}

func TestAdoptRunning(t *testing.T) {
	t.Parallel()
	l, b := setup(t, docker.Config{})
	job := b.job("-stdout=200", "-interval=20ms")
	job.LeaseToken = 7
	job.Timeout = time.Hour
	job.StopGrace = 3 * time.Second

	// The first agent acknowledges 50 lines, then dies. Lines it printed
	// after those were never acknowledged.
	agent, out := helperAgent(t, b, job)
	var id string
	var acked []string
	for len(acked) < 50 && out.Scan() {
		switch line := out.Text(); {
		case strings.HasPrefix(line, "id "):
			id = strings.TrimPrefix(line, "id ")
		case strings.HasPrefix(line, "line "):
			acked = append(acked, strings.TrimPrefix(line, "line "))
		}
	}
	for id == "" && out.Scan() {
		id, _ = strings.CutPrefix(out.Text(), "id ")
	}
	killAgent(t, agent)
	if diff := gocmp.Diff(numbered("out", 1, 50), acked); diff != "" {
		t.Fatalf("lines seen by the first agent mismatch (-want +got):\n%s", diff)
	}

	// A new agent finds the container still running, and adopts it.
	survivors, err := l.Survivors(context.Background())
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	want := []launch.Survivor{{
		RunID: job.RunID, Attempt: 1, InfrastructureID: id,
		Timeout: time.Hour, StopGrace: 3 * time.Second, LeaseToken: 7,
	}}
	if diff := gocmp.Diff(want, survivors, cmpopts.IgnoreFields(launch.Survivor{}, "StartedAt")); diff != "" {
		t.Fatalf("Survivors mismatch (-want +got):\n%s", diff)
	}
	if since := time.Since(survivors[0].StartedAt); since < 0 || since > waitBound {
		t.Errorf("Survivors: StartedAt %v is not a moment ago", survivors[0].StartedAt)
	}
	if survivors[0].Ended {
		t.Fatalf("Survivors: the container had ended before adoption; the test needs it running")
	}

	s := &sink{}
	survivors[0].SkipLines = 50
	h, err := l.Adopt(context.Background(), survivors[0], s)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if h.InfrastructureID() != id {
		t.Errorf("InfrastructureID = %s, want %s", h.InfrastructureID(), id)
	}
	got := wait(t, h)
	if got.Kind != launch.OutcomeSucceeded {
		t.Errorf("outcome = %+v, want Succeeded", got)
	}
	if diff := gocmp.Diff(numbered("out", 51, 200), s.texts(launch.StreamStdout)); diff != "" {
		t.Errorf("lines after adoption mismatch (-want +got):\n%s", diff)
	}
	checkRemoved(t, b.cli, id)
}

func TestAdoptEnded(t *testing.T) {
	t.Parallel()
	l, b := setup(t, docker.Config{})
	// The run ends while no agent watches it: the agent dies right after the
	// start, before the run writes anything.
	job := b.job("-sleep=1s", "-stdout=3", "-stderr=2", "-exit=4")
	agent, out := helperAgent(t, b, job)
	var id string
	for id == "" && out.Scan() {
		id, _ = strings.CutPrefix(out.Text(), "id ")
	}
	killAgent(t, agent)
	if id == "" {
		t.Fatal("helper agent printed no container id")
	}
	waitUntil(t, "container exit", func() bool {
		info, err := b.cli.ContainerInspect(context.Background(), id)
		return err == nil && info.State.Status == "exited"
	})

	survivors, err := l.Survivors(context.Background())
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	if len(survivors) != 1 || survivors[0].InfrastructureID != id || !survivors[0].Ended {
		t.Fatalf("Survivors = %+v, want the ended container %s", survivors, id)
	}

	// Another agent's launcher does not adopt it.
	other, err := docker.New(docker.Config{Client: b.cli, AgentName: b.agent + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Adopt(context.Background(), survivors[0], &sink{}); err == nil {
		t.Errorf("Adopt by another agent: err = nil, want an error")
	}

	s := &sink{}
	h, err := l.Adopt(context.Background(), survivors[0], s)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	got := wait(t, h)
	want := launch.Outcome{ExitCode: 4, Kind: launch.OutcomeFailed, Message: "exited with code 4"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(numbered("out", 1, 3), s.texts(launch.StreamStdout)); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(numbered("err", 1, 2), s.texts(launch.StreamStderr)); diff != "" {
		t.Errorf("stderr mismatch (-want +got):\n%s", diff)
	}
	checkRemoved(t, b.cli, id)
}

func TestAdoptNeverStarted(t *testing.T) {
	t.Parallel()
	l, b := setup(t, docker.Config{})
	// A container as an agent that died between create and start leaves it.
	ctx := context.Background()
	created, err := b.cli.ContainerCreate(ctx, &container.Config{
		Image:      payloadImage,
		Entrypoint: []string{b.bin},
		Labels: map[string]string{
			"ferry.run_id": "run-unstarted", "ferry.attempt": "2", "ferry.agent": b.agent,
			"ferry.lease_token": "9", "ferry.timeout_ms": "0", "ferry.stop_grace_ms": "10000",
			"ferry.keep_container": "false",
		},
	}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	survivors, err := l.Survivors(ctx)
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	want := []launch.Survivor{{RunID: "run-unstarted", Attempt: 2, InfrastructureID: created.ID,
		StopGrace: 10 * time.Second, LeaseToken: 9}}
	if diff := gocmp.Diff(want, survivors); diff != "" {
		t.Fatalf("Survivors mismatch (-want +got):\n%s", diff)
	}
	h, err := l.Adopt(ctx, survivors[0], &sink{})
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	got := wait(t, h)
	if got.Kind != launch.OutcomeCrashed || !strings.Contains(got.Message, "never started") {
		t.Errorf("outcome = %+v, want Crashed, never started", got)
	}
	checkRemoved(t, b.cli, created.ID)
}

func TestPullWithRegistryAuth(t *testing.T) {
	t.Parallel()
	e := dockertest.Start(t)
	reg := dockertest.StartRegistry(t, "ferry", "correct horse")
	e.BuildImage(t, payloadImage, dockertest.PayloadPackage)
	ref := reg.Push(t, e, payloadImage, "ferry/payload:"+strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "-")))

	tests := []struct {
		name    string
		auth    map[string]docker.RegistryAuth
		image   string // empty means the pushed image
		policy  launch.PullPolicy
		wantErr string
		invalid bool // the error wraps ErrInvalidJob
	}{
		{name: "no credentials", policy: launch.PullAlways, wantErr: "no basic auth credentials"},
		{
			name:    "wrong password",
			auth:    map[string]docker.RegistryAuth{reg.Addr(): {Username: "ferry", Password: "wrong"}},
			policy:  launch.PullAlways,
			wantErr: "unauthorized",
		},
		{
			name:    "image the registry does not have",
			auth:    map[string]docker.RegistryAuth{reg.Addr(): {Username: "ferry", Password: "correct horse"}},
			image:   reg.Addr() + "/ferry/absent:1",
			policy:  launch.PullIfNotPresent,
			wantErr: "manifest unknown",
			invalid: true,
		},
		{
			name:   "agent's credentials for the registry",
			auth:   map[string]docker.RegistryAuth{reg.Addr(): {Username: "ferry", Password: "correct horse"}},
			policy: launch.PullAlways,
		},
	}
	for _, tt := range tests {
		// Sequential: the cases share the image, which the last one pulls.
		t.Run(tt.name, func(t *testing.T) {
			l, b := setup(t, docker.Config{RegistryAuth: tt.auth})
			job := b.job("-stdout=2")
			job.Image = cmp.Or(tt.image, ref)
			job.Container.PullPolicy = tt.policy
			h, err := l.Start(context.Background(), job, &sink{})
			if tt.wantErr != "" {
				if err == nil {
					wait(t, h)
					t.Fatalf("Start: err = nil, want %q", tt.wantErr)
				}
				if errors.Is(err, launch.ErrInvalidJob) != tt.invalid || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Start: err = %v, want one containing %q, wrapping ErrInvalidJob: %v", err, tt.wantErr, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if got := wait(t, h); got.Kind != launch.OutcomeSucceeded {
				t.Errorf("outcome = %+v, want Succeeded", got)
			}
		})
	}
}
