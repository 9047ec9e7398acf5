package process_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/process"
	"github.com/ferryhq/ferry/internal/clock"
)

// waitBound is the generous limit on anything a test waits for.
const waitBound = 30 * time.Second

var t0 = time.Date(2025, 10, 26, 0, 59, 0, 0, time.UTC)

func TestRun(t *testing.T) {
	t.Parallel()
	scriptDir := t.TempDir()
	writeFile(t, filepath.Join(scriptDir, "run.sh"), "#!/bin/sh\necho from script\n", 0o755)
	numbers := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = strconv.Itoa(i + 1)
		}
		return s
	}

	tests := []struct {
		name         string
		job          launch.Job
		maxLineBytes int
		wantStdout   []string
		wantStderr   []string
		wantSystem   []string // %d stands for the process group id
		want         launch.Outcome
	}{
		{
			name:       "lines in order on both streams",
			job:        launch.Job{Command: []string{"sh", "-c", "echo one; echo two >&2; echo three; echo four >&2; printf 'five\\n'"}},
			wantStdout: []string{"one", "three", "five"},
			wantStderr: []string{"two", "four"},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "non-zero exit",
			job:        launch.Job{Command: []string{"sh", "-c", "echo bye; exit 3"}},
			wantStdout: []string{"bye"},
			want:       launch.Outcome{ExitCode: 3, Kind: launch.OutcomeFailed, Message: "exited with code 3"},
		},
		{
			name: "killed by a signal",
			job:  launch.Job{Command: []string{"sh", "-c", "kill -SEGV $$"}, WorkingDir: t.TempDir()},
			want: launch.Outcome{ExitCode: 139, Kind: launch.OutcomeFailed, Message: "killed by signal SIGSEGV"},
		},
		{
			name:         "long line truncated with a marker",
			job:          launch.Job{Command: []string{"sh", "-c", "head -c 20000 /dev/zero | tr '\\0' x; echo; echo after"}},
			maxLineBytes: 1000,
			wantStdout:   []string{strings.Repeat("x", 1000) + "… [truncated 19000 bytes]", "after"},
			want:         launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "last line without a newline",
			job:        launch.Job{Command: []string{"printf", "first\\nlast"}},
			wantStdout: []string{"first", "last"},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "every line of a large output",
			job:        launch.Job{Command: []string{"sh", "-c", "seq 1 20000; seq 1 20000 >&2"}},
			wantStdout: numbers(20000),
			wantStderr: numbers(20000),
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name: "parameters rendered into arguments",
			job: launch.Job{
				Command:        []string{"printf", "%s|%s|%s\\n", "{{ .n }}", "{{.s}}", "{{ .o }}"},
				ParametersJSON: `{"n": 9007199254740993, "s": "a b", "o": {"k": [1, 2]}}`,
			},
			wantStdout: []string{`9007199254740993|a b|{"k":[1,2]}`},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "relative command in the working directory",
			job:        launch.Job{Command: []string{"./run.sh"}, WorkingDir: scriptDir},
			wantStdout: []string{"from script"},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name:       "working directory",
			job:        launch.Job{Command: []string{"sh", "-c", "pwd -P"}, WorkingDir: scriptDir},
			wantStdout: []string{evalSymlinks(t, scriptDir)},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name: "background process left behind is removed",
			job: launch.Job{Command: []string{"sh", "-c",
				`(trap '' TERM; exec sleep 1000) & echo started`}},
			wantStdout: []string{"started"},
			wantSystem: []string{"main process exited; killed 1 process it left running in process group %d"},
			want:       launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, _ := newLauncher(t, process.Config{MaxLineBytes: tt.maxLineBytes})
			tt.job.RunID = "run-" + strings.ReplaceAll(tt.name, " ", "-")
			tt.job.Attempt = 1
			h, s := start(t, l, tt.job)

			got := wait(t, h)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			pgid := pgidOf(t, h)
			checkGroupGone(t, pgid)
			if diff := cmp.Diff(tt.wantStdout, s.texts(launch.StreamStdout)); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStderr, s.texts(launch.StreamStderr)); diff != "" {
				t.Errorf("stderr mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(withPGID(tt.wantSystem, pgid), s.texts(launch.StreamSystem)); diff != "" {
				t.Errorf("system lines mismatch (-want +got):\n%s", diff)
			}
			for _, line := range s.all() {
				wantTruncated := strings.Contains(line.Text, "… [truncated ")
				if line.Truncated != wantTruncated || !line.Time.Equal(t0) {
					t.Errorf("line %.40q: Truncated = %v, Time = %v; want %v, %v", line.Text, line.Truncated, line.Time, wantTruncated, t0)
				}
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	// Not parallel: it sets a variable in the agent's own environment to show
	// that it does not reach the run.
	t.Setenv("FERRY_TEST_AGENT_SECRET", "must not leak")
	job := launch.Job{
		RunID:          "run-env",
		Attempt:        2,
		Command:        []string{"env"},
		ParametersJSON: `{"n": 9007199254740993, "s": "x y"}`,
		Env: map[string]string{
			"GREETING":      "hello world",
			"LANG":          "fr_FR.UTF-8",
			"FERRY_ATTEMPT": "99",
		},
	}
	base := process.DefaultBaseEnv()
	for _, kv := range base {
		if strings.HasPrefix(kv, "FERRY_TEST_AGENT_SECRET=") {
			t.Fatalf("DefaultBaseEnv() holds %q", kv)
		}
	}

	tests := []struct {
		name    string
		baseEnv []string
		command []string
		want    []string
	}{
		{
			name:    "default base environment",
			command: []string{"env"},
			want: []string{
				`FERRY_ATTEMPT=2`,
				`FERRY_PARAMETERS={"n": 9007199254740993, "s": "x y"}`,
				`FERRY_RUN_ID=run-env`,
				`GREETING=hello world`,
				`HOME=` + envValue(base, "HOME"),
				`LANG=fr_FR.UTF-8`,
				`PATH=` + envValue(base, "PATH"),
			},
		},
		{
			name:    "empty base environment",
			baseEnv: []string{},
			command: []string{"/usr/bin/env"},
			want: []string{
				`FERRY_ATTEMPT=2`,
				`FERRY_PARAMETERS={"n": 9007199254740993, "s": "x y"}`,
				`FERRY_RUN_ID=run-env`,
				`GREETING=hello world`,
				`LANG=fr_FR.UTF-8`,
			},
		},
		{
			name:    "configured base environment",
			baseEnv: []string{"PATH=/usr/bin:/bin", "TZ=UTC"},
			command: []string{"env"},
			want: []string{
				`FERRY_ATTEMPT=2`,
				`FERRY_PARAMETERS={"n": 9007199254740993, "s": "x y"}`,
				`FERRY_RUN_ID=run-env`,
				`GREETING=hello world`,
				`LANG=fr_FR.UTF-8`,
				`PATH=/usr/bin:/bin`,
				`TZ=UTC`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLauncher(t, process.Config{BaseEnv: tt.baseEnv})
			j := job
			j.Command = tt.command
			h, s := start(t, l, j)
			if got := wait(t, h); got.Kind != launch.OutcomeSucceeded {
				t.Fatalf("outcome = %+v, want Succeeded", got)
			}
			if diff := cmp.Diff(tt.want, s.texts(launch.StreamStdout)); diff != "" {
				t.Errorf("environment mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		ready      []string // lines that show the traps are in place
		ignoreTerm bool     // the main process survives SIGTERM, so the grace must run out
		wantStdout []string
		wantCode   int32
	}{
		{
			name:       "main process honours SIGTERM",
			script:     `trap 'echo got TERM; exit 0' TERM; echo ready; sleep 1000 & wait`,
			ready:      []string{"ready"},
			wantStdout: []string{"ready", "got TERM"},
			wantCode:   0,
		},
		{
			name:       "whole group ignores SIGTERM",
			script:     `trap '' TERM; sleep 1000 & echo ready; wait`,
			ready:      []string{"ready"},
			ignoreTerm: true,
			wantStdout: []string{"ready"},
			wantCode:   137,
		},
		{
			name:       "grandchild ignores SIGTERM after the main process exits",
			script:     `trap 'exit 0' TERM; (trap '' TERM; echo child ready; exec sleep 1000) & echo leader ready; wait`,
			ready:      []string{"child ready", "leader ready"},
			wantStdout: []string{"child ready", "leader ready"},
			wantCode:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, clk := newLauncher(t, process.Config{})
			h, s := start(t, l, launch.Job{
				RunID:   "run-timeout",
				Attempt: 1,
				Command: []string{"sh", "-c", tt.script},
				Timeout: 5 * time.Minute,
			})
			for _, r := range tt.ready {
				s.waitFor(t, launch.StreamStdout, r)
			}

			clk.Advance(5 * time.Minute)
			if tt.ignoreTerm {
				s.waitFor(t, launch.StreamSystem, "SIGKILL follows in 10s")
				clk.Advance(launch.DefaultStopGrace)
			}
			got := wait(t, h)
			want := launch.Outcome{ExitCode: tt.wantCode, Kind: launch.OutcomeTimedOut, Message: "timed out after 5m0s"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			checkGroupGone(t, pgidOf(t, h))
			if diff := cmp.Diff(tt.wantStdout, s.texts(launch.StreamStdout), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeoutRealClock(t *testing.T) {
	t.Parallel()
	l, err := process.New(process.Config{})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	h, s := start(t, l, launch.Job{
		RunID:     "run-real-clock",
		Attempt:   1,
		Command:   []string{"sh", "-c", `trap '' TERM; echo ready; sleep 1000 & wait`},
		Timeout:   50 * time.Millisecond,
		StopGrace: 50 * time.Millisecond,
	})
	got := wait(t, h)
	want := launch.Outcome{ExitCode: 137, Kind: launch.OutcomeTimedOut, Message: "timed out after 50ms"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
	checkGroupGone(t, pgidOf(t, h))
	if !s.has(launch.StreamSystem, "sent SIGKILL") {
		t.Errorf("system lines %q do not mention SIGKILL", s.texts(launch.StreamSystem))
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		ignoreTerm bool
		wantStdout []string
		wantSystem []string // %d stands for the process group id
		wantCode   int32
	}{
		{
			name:       "SIGTERM honoured",
			script:     `trap 'echo got TERM; exit 0' TERM; echo ready; sleep 1000 & wait`,
			wantStdout: []string{"ready", "got TERM"},
			wantSystem: []string{
				"cancelled: user request: sent SIGTERM to process group %d; SIGKILL follows in 10s",
			},
			wantCode: 0,
		},
		{
			name:       "SIGTERM ignored, killed after the grace",
			script:     `trap '' TERM; echo ready; sleep 1000 & wait`,
			ignoreTerm: true,
			wantStdout: []string{"ready"},
			wantSystem: []string{
				"cancelled: user request: sent SIGTERM to process group %d; SIGKILL follows in 10s",
				"process group %d still running 10s after SIGTERM: sent SIGKILL",
			},
			wantCode: 137,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, clk := newLauncher(t, process.Config{})
			h, s := start(t, l, launch.Job{
				RunID:   "run-cancel",
				Attempt: 1,
				Command: []string{"sh", "-c", tt.script},
			})
			s.waitFor(t, launch.StreamStdout, "ready")

			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			for range 2 {
				if err := h.Cancel(ctx, "user request"); err != nil {
					t.Fatalf("Cancel() error = %v", err)
				}
			}
			if tt.ignoreTerm {
				clk.Advance(launch.DefaultStopGrace)
			}
			got := wait(t, h)
			want := launch.Outcome{ExitCode: tt.wantCode, Kind: launch.OutcomeCancelled, Message: "cancelled: user request"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
			pgid := pgidOf(t, h)
			checkGroupGone(t, pgid)
			if diff := cmp.Diff(tt.wantStdout, s.texts(launch.StreamStdout)); diff != "" {
				t.Errorf("stdout mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(withPGID(tt.wantSystem, pgid), s.texts(launch.StreamSystem)); diff != "" {
				t.Errorf("system lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCancelAfterEnd(t *testing.T) {
	t.Parallel()
	l, _ := newLauncher(t, process.Config{})
	h, _ := start(t, l, launch.Job{RunID: "run-done", Attempt: 1, Command: []string{"true"}})
	want := launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}
	if diff := cmp.Diff(want, wait(t, h)); diff != "" {
		t.Fatalf("outcome mismatch (-want +got):\n%s", diff)
	}
	if err := h.Cancel(context.Background(), "too late"); err != nil {
		t.Fatalf("Cancel() error = %v", err)
	}
	if diff := cmp.Diff(want, wait(t, h)); diff != "" {
		t.Errorf("outcome after Cancel mismatch (-want +got):\n%s", diff)
	}
}

func TestWaitContextEnds(t *testing.T) {
	t.Parallel()
	l, _ := newLauncher(t, process.Config{})
	h, _ := start(t, l, launch.Job{RunID: "run-wait", Attempt: 1, Command: []string{"sleep", "1000"}})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait() with a cancelled context: error = %v, want context.Canceled", err)
	}

	if err := h.Cancel(context.Background(), ""); err != nil {
		t.Fatalf("Cancel() error = %v", err)
	}
	want := launch.Outcome{ExitCode: 143, Kind: launch.OutcomeCancelled, Message: "cancelled"}
	if diff := cmp.Diff(want, wait(t, h)); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "plain.txt"), "not a program\n", 0o644)
	writeFile(t, filepath.Join(dir, "badinterp.sh"), "#!/nonexistent/interpreter\n", 0o755)

	tests := []struct {
		name    string
		job     launch.Job
		wantErr string
	}{
		{name: "command not in PATH", job: launch.Job{Command: []string{"ferry-no-such-command", "x"}}, wantErr: `command "ferry-no-such-command" not found in PATH`},
		{name: "command path does not exist", job: launch.Job{Command: []string{"/nonexistent/bin/tool"}}, wantErr: `command "/nonexistent/bin/tool" not found`},
		{name: "PATH of the run is used", job: launch.Job{Command: []string{"sh"}, Env: map[string]string{"PATH": "/nonexistent"}}, wantErr: `command "sh" not found in PATH`},
		{name: "command is a directory", job: launch.Job{Command: []string{dir}}, wantErr: "is a directory"},
		{name: "command is not executable", job: launch.Job{Command: []string{"./plain.txt"}, WorkingDir: dir}, wantErr: `command "./plain.txt" is not executable`},
		{name: "interpreter missing", job: launch.Job{Command: []string{filepath.Join(dir, "badinterp.sh")}}, wantErr: "no such file or directory"},
		{name: "missing parameter", job: launch.Job{Command: []string{"echo", "{{ .name }}"}, ParametersJSON: `{}`}, wantErr: `parameter "name" is not set`},
		{name: "pipeline in the command", job: launch.Job{Command: []string{"echo", "{{ .a | len }}"}, ParametersJSON: `{"a": "x"}`}, wantErr: "unsupported action"},
		{name: "working directory missing", job: launch.Job{Command: []string{"true"}, WorkingDir: "/nonexistent-dir"}, wantErr: "working directory"},
		{name: "working directory is a file", job: launch.Job{Command: []string{"true"}, WorkingDir: filepath.Join(dir, "plain.txt")}, wantErr: "is not a directory"},
		{name: "empty command", job: launch.Job{}, wantErr: "command is empty"},
		{name: "bad environment name", job: launch.Job{Command: []string{"true"}, Env: map[string]string{"A=B": "c"}}, wantErr: "contains '='"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, _ := newLauncher(t, process.Config{})
			tt.job.RunID = "run-bad"
			tt.job.Attempt = 1
			s := newSink()
			h, err := l.Start(context.Background(), tt.job, s)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), waitBound)
				defer cancel()
				_ = h.Cancel(ctx, "unexpected start")
				t.Fatalf("Start() succeeded, want an error containing %q", tt.wantErr)
			}
			if !errors.Is(err, launch.ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start() error = %v, want ErrInvalidJob containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     process.Config
		wantErr string
	}{
		{name: "negative line limit", cfg: process.Config{MaxLineBytes: -1}, wantErr: "max line bytes -1 is negative"},
		{name: "base entry without =", cfg: process.Config{BaseEnv: []string{"PATH"}}, wantErr: `base environment entry "PATH" is not KEY=VALUE`},
		{name: "base entry without name", cfg: process.Config{BaseEnv: []string{"=x"}}, wantErr: "is not KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := process.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// newLauncher returns a launcher driven by a fake clock, unless cfg has one.
func newLauncher(t *testing.T, cfg process.Config) (*process.Launcher, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	l, err := process.New(cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return l, clk
}

// start starts job and makes sure, at cleanup, that nothing of it is left.
func start(t *testing.T, l *process.Launcher, job launch.Job) (launch.Handle, *sink) {
	t.Helper()
	s := newSink()
	h, err := l.Start(context.Background(), job, s)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() {
		// A test that failed half-way may leave the run going.
		_ = unix.Kill(-pgidOf(t, h), unix.SIGKILL)
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if _, err := h.Wait(ctx); err != nil {
			t.Errorf("cleanup: Wait() error = %v", err)
		}
	})
	return h, s
}

func wait(t *testing.T, h launch.Handle) launch.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	o, err := h.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait() error = %v", err)
	}
	return o
}

func pgidOf(t *testing.T, h launch.Handle) int {
	t.Helper()
	pid, err := strconv.Atoi(h.InfrastructureID())
	if err != nil || pid <= 1 {
		t.Fatalf("InfrastructureID() = %q, want a process id", h.InfrastructureID())
	}
	return pid
}

// checkGroupGone fails unless no process, zombies included, is left in the
// process group pgid.
func checkGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if err := unix.Kill(-pgid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("kill(-%d, 0) = %v, want ESRCH: the process group is still there", pgid, err)
	}
}

func withPGID(lines []string, pgid int) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.ReplaceAll(l, "%d", strconv.Itoa(pgid)))
	}
	return out
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func evalSymlinks(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// sink records the lines of a run and lets a test wait for one.
type sink struct {
	mu      sync.Mutex
	lines   []launch.LogLine
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{}, 1)} }

func (s *sink) Line(l launch.LogLine) {
	s.mu.Lock()
	s.lines = append(s.lines, l)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *sink) all() []launch.LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]launch.LogLine(nil), s.lines...)
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

func (s *sink) has(stream launch.Stream, substr string) bool {
	for _, text := range s.texts(stream) {
		if strings.Contains(text, substr) {
			return true
		}
	}
	return false
}

// waitFor blocks until a line of stream contains substr.
func (s *sink) waitFor(t *testing.T, stream launch.Stream, substr string) {
	t.Helper()
	bound := time.After(waitBound)
	for !s.has(stream, substr) {
		select {
		case <-s.changed:
		case <-bound:
			t.Fatalf("no %s line containing %q after %s; got %q", stream, substr, waitBound, s.texts(stream))
		}
	}
}

func TestEscapedProcessDoesNotHoldTheRun(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the escaped-output limit of several seconds")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "escaped.pid")
	l, _ := newLauncher(t, process.Config{})
	// The escaped process writes its pid file only after setsid, so once the
	// file exists it is out of the run's group and holds stdout open.
	h, s := start(t, l, launch.Job{
		RunID:      "run-escaped",
		Attempt:    1,
		WorkingDir: dir,
		Command: []string{"sh", "-c",
			`setsid sh -c 'echo $$ > escaped.pid.tmp; mv escaped.pid.tmp escaped.pid; echo escaped; exec sleep 1000' &
			while [ ! -s escaped.pid ]; do sleep 0.01; done; echo done`},
	})
	t.Cleanup(func() {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Errorf("read escaped pid: %v", err)
			return
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Errorf("escaped pid %q: %v", data, err)
			return
		}
		_ = unix.Kill(pid, unix.SIGKILL)
		// The agent process is a subreaper, so the escaped process is its child.
		_, _ = unix.Wait4(pid, nil, 0, nil)
	})

	want := launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}
	if diff := cmp.Diff(want, wait(t, h)); diff != "" {
		t.Errorf("outcome mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"done", "escaped"}, s.texts(launch.StreamStdout), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("stdout mismatch (-want +got):\n%s", diff)
	}
	if !s.has(launch.StreamSystem, "a process outside the group holds it") {
		t.Errorf("system lines %q do not explain the open output", s.texts(launch.StreamSystem))
	}
}
