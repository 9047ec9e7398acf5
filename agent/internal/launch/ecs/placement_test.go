package ecs_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// TestReadoptionInAnotherCluster restarts the launcher while a task that job
// variables placed in another of the agent's clusters, with another log
// group, stream prefix and container, is running: the task is found there,
// adopted without a second RunTask, and its log is read from where its task
// definition sends it, resuming after the lines already delivered.
func TestReadoptionInAnotherCluster(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := job("run-placed")
	j.Variables = `{"cluster":"pool-cluster","log_group":"/pool/runs","stream_prefix":"pool","container_name":"main"}`
	first, err := b.l.Start(t.Context(), j, &sink{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	task := onlyTask(t, b.ecs)
	if task.Cluster != "pool-cluster" || task.LogGroup != "/pool/runs" ||
		!strings.HasPrefix(task.LogStream, "pool/main/") {
		t.Fatalf("task placed in %s, logging to %s %s; want pool-cluster, /pool/runs, pool/main/...",
			task.Cluster, task.LogGroup, task.LogStream)
	}
	b.logs.Append(task.LogGroup, task.LogStream, "one", "two")

	restarted := newLauncher(t, b.srv, "agent-1", 5*time.Second)
	survivors, err := restarted.Survivors(t.Context())
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	if len(survivors) != 1 || survivors[0].InfrastructureID != first.InfrastructureID() {
		t.Fatalf("Survivors = %+v, want the task %s", survivors, first.InfrastructureID())
	}
	s := survivors[0]
	s.SkipLines = 1
	var out sink
	h, err := restarted.Adopt(t.Context(), s, &out)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	b.logs.Append(task.LogGroup, task.LogStream, "three")
	waitFor(t, "adopted output", func() bool { return len(out.output()) == 2 })
	if err := b.ecs.Exit(task.ARN, 4); err != nil {
		t.Fatal(err)
	}
	if o := wait(t, h); o.Kind != launch.OutcomeFailed || o.ExitCode != 4 {
		t.Errorf("outcome = %+v, want Failed with code 4 from the run's container", o)
	}
	if got := out.output(); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("adopted output = %q, want [two three]", got)
	}
	if n := len(b.srv.Calls(awsfake.TargetRunTask)); n != 1 {
		t.Errorf("RunTask calls = %d, want 1", n)
	}
}

// recorder keeps the messages a launcher logs.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// TestFinalLogReadRetried makes every GetLogEvents call fail from just
// before the task stops. The final read of the log is tried again, beyond
// the SDK's retries, until the drain timeout: when CloudWatch Logs answers
// again in time every line is delivered; when it does not, the outcome is
// still reported, with a system line naming the group and stream whose rest
// could not be read.
func TestFinalLogReadRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// recover clears the fault once a final read has failed.
		recover bool
		drain   time.Duration
		want    []string
	}{
		{name: "logs answer again", recover: true, drain: time.Minute, want: []string{"a", "b", "c", "d"}},
		{name: "logs stay down", drain: 300 * time.Millisecond, want: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := awsfake.Start(t)
			logs := awsfake.NewLogs(srv)
			fake := awsfake.NewECS(srv, logs)
			rec := &recorder{}
			l, err := ecs.New(ecs.Config{
				AWS: srv.Config(), AccountID: awsfake.AccountID, Task: taskConfig(), AgentName: "agent-1",
				Logger:       slog.New(rec),
				PollInterval: 10 * time.Millisecond, LogInterval: 10 * time.Millisecond,
				CallTimeout: 5 * time.Second, MaxAttempts: 2, MaxBackoff: time.Millisecond,
				DrainTimeout: tt.drain,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var out sink
			h, err := l.Start(t.Context(), job("run-drain"), &out)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			task := onlyTask(t, fake)
			logs.Append(task.LogGroup, task.LogStream, "a", "b")
			waitFor(t, "lines read while the task runs", func() bool { return len(out.output()) == 2 })

			srv.Inject(awsfake.Fault{Target: awsfake.TargetGetLogEvents,
				Err: &awsfake.APIError{Type: "ServiceUnavailableException", Message: "down", Status: 503}})
			logs.Append(task.LogGroup, task.LogStream, "c", "d")
			if err := fake.Exit(task.ARN, 0); err != nil {
				t.Fatal(err)
			}
			if tt.recover {
				waitFor(t, "a failed final read", func() bool {
					return rec.count("ecs: final log read failed; trying again") > 0
				})
				srv.ClearFaults()
			}
			o := wait(t, h)
			if o.Kind != launch.OutcomeSucceeded {
				t.Errorf("outcome = %+v, want Succeeded", o)
			}
			if got := out.output(); !slices.Equal(got, tt.want) {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
			lost := 0
			for _, line := range out.lines {
				if line.Stream == launch.StreamSystem && strings.Contains(line.Text, "could not be read from CloudWatch Logs") {
					lost++
					for _, name := range []string{task.LogGroup, task.LogStream} {
						if !strings.Contains(line.Text, name) {
							t.Errorf("system line %q does not name %s", line.Text, name)
						}
					}
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tt.recover]; lost != want {
				t.Errorf("%d system lines about output lost, want %d", lost, want)
			}
		})
	}
}
