package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// waitBound is how long a test waits for a condition before failing.
const waitBound = 10 * time.Second

type bundle struct {
	srv  *awsfake.Server
	ecs  *awsfake.ECS
	logs *awsfake.Logs
	l    *ecs.Launcher
}

func taskConfig() ecs.TaskConfig {
	return ecs.TaskConfig{
		Cluster:          "ferry",
		LaunchType:       ecs.LaunchTypeFargate,
		Subnets:          []string{"subnet-1"},
		SecurityGroups:   []string{"sg-1"},
		ExecutionRoleARN: "arn:aws:iam::123456789012:role/exec",
		CPU:              256,
		Memory:           512,
		LogGroup:         "/ferry/runs",
		Tags:             map[string]string{"team": "data"},
	}
}

func newLauncher(t *testing.T, srv *awsfake.Server, agent string, callTimeout time.Duration) *ecs.Launcher {
	t.Helper()
	l, err := ecs.New(ecs.Config{
		AWS:       srv.Config(),
		AccountID: awsfake.AccountID,
		Task:      taskConfig(),
		// Job variables of the tests may place runs in this cluster too.
		OtherClusters: []string{"arn:aws:ecs:" + awsfake.Region + ":" + awsfake.AccountID + ":cluster/pool-cluster"},
		AgentName:     agent,
		PollInterval:  10 * time.Millisecond,
		LogInterval:   10 * time.Millisecond,
		CallTimeout:   callTimeout,
		MaxBackoff:    time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func setup(t *testing.T) bundle {
	t.Helper()
	srv := awsfake.Start(t)
	logs := awsfake.NewLogs(srv)
	return bundle{srv: srv, ecs: awsfake.NewECS(srv, logs), logs: logs, l: newLauncher(t, srv, "agent-1", 5*time.Second)}
}

func job(runID string) launch.Job {
	return launch.Job{
		RunID:          runID,
		Attempt:        1,
		Command:        []string{"etl", "--day", "{{ .day }}"},
		Env:            map[string]string{"MODE": "full"},
		Image:          "ghcr.io/acme/etl:1.4",
		LeaseToken:     7,
		ParametersJSON: `{"day":"2026-01-02"}`,
	}
}

type sink struct {
	mu    sync.Mutex
	lines []launch.LogLine
}

func (s *sink) Line(l launch.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
}

func (s *sink) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		if l.Stream != launch.StreamSystem {
			out = append(out, l.Text)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wait(t *testing.T, h launch.Handle) launch.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	out, err := h.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return out
}

func onlyTask(t *testing.T, f *awsfake.ECS) awsfake.ECSTask {
	t.Helper()
	tasks := f.Tasks()
	if len(tasks) != 1 {
		t.Fatalf("fake holds %d tasks, want 1", len(tasks))
	}
	return tasks[0]
}

func TestCompletedWithLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := job("run-0001")
	j.Env["DB_PASSWORD"] = "s3cret-value"
	j.SecretRefs = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"}
	var s sink
	h, err := b.l.Start(t.Context(), j, &s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	task := onlyTask(t, b.ecs)
	if h.InfrastructureID() != task.ARN {
		t.Errorf("InfrastructureID = %q, want %q", h.InfrastructureID(), task.ARN)
	}
	if task.StartedBy != "ferry-run-0001" {
		t.Errorf("startedBy = %q", task.StartedBy)
	}
	if task.Tags["ferry:run-id"] != "run-0001" || task.Tags["ferry:attempt"] != "1" || task.Tags["team"] != "data" {
		t.Errorf("tags = %v", task.Tags)
	}
	if want := []string{"etl", "--day", "2026-01-02"}; !slices.Equal(task.Command, want) {
		t.Errorf("command = %q, want %q", task.Command, want)
	}
	if task.Environment["MODE"] != "full" || task.Environment[launch.EnvRunID] != "run-0001" {
		t.Errorf("environment = %v", task.Environment)
	}
	if _, ok := task.Environment["DB_PASSWORD"]; ok {
		t.Error("the secret's variable travelled in the overrides")
	}
	for _, c := range b.srv.Calls("") {
		if strings.Contains(string(c.Body), "s3cret-value") {
			t.Fatalf("%s carried the secret value", c.Target)
		}
	}
	reg := b.srv.Calls(awsfake.TargetRegisterTaskDefinition)
	want := `"valueFrom":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db:password::"`
	if len(reg) != 1 || !strings.Contains(string(reg[0].Body), want) {
		t.Errorf("RegisterTaskDefinition calls = %d, want one holding %s", len(reg), want)
	}

	b.logs.Append(task.LogGroup, task.LogStream, "hello", "world")
	waitFor(t, "log lines", func() bool { return len(s.output()) == 2 })
	if err := b.ecs.Exit(task.ARN, 0); err != nil {
		t.Fatal(err)
	}
	out := wait(t, h)
	if out.Kind != launch.OutcomeSucceeded || out.ExitCode != 0 {
		t.Errorf("outcome = %+v, want Succeeded with code 0", out)
	}
	if got := s.output(); !slices.Equal(got, []string{"hello", "world"}) {
		t.Errorf("output = %q", got)
	}

	// An unchanged job reuses the task definition.
	h2, err := b.l.Start(t.Context(), job("run-0002"), &sink{})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if n := len(b.srv.Calls(awsfake.TargetRegisterTaskDefinition)); n != 2 {
		t.Errorf("RegisterTaskDefinition calls = %d after a job without secrets, want 2", n)
	}
	h3, err := b.l.Start(t.Context(), job("run-0003"), &sink{})
	if err != nil {
		t.Fatalf("third Start: %v", err)
	}
	if n := len(b.srv.Calls(awsfake.TargetRegisterTaskDefinition)); n != 2 {
		t.Errorf("RegisterTaskDefinition calls = %d after an unchanged job, want 2", n)
	}
	for _, h := range []launch.Handle{h2, h3} {
		if err := h.Cancel(t.Context(), "test over"); err != nil {
			t.Fatal(err)
		}
		wait(t, h)
	}
}

func TestEndings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		before   func(f *awsfake.ECS)
		end      func(f *awsfake.ECS, arn string) error
		kind     launch.OutcomeKind
		code     int32
		contains string
	}{
		{"exit 1", nil, func(f *awsfake.ECS, arn string) error { return f.Exit(arn, 1) },
			launch.OutcomeFailed, 1, "exited with code 1"},
		{"out of memory", nil, (*awsfake.ECS).OOM, launch.OutcomeFailed, 137, "memory"},
		{"spot interruption", nil, (*awsfake.ECS).Interrupt, launch.OutcomeCrashed, launch.ExitCodeUnknown, "Spot"},
		{"capacity", func(f *awsfake.ECS) { f.FailCapacity(1) }, nil,
			launch.OutcomeCrashed, launch.ExitCodeUnknown, "Capacity is unavailable"},
		{"image pull", func(f *awsfake.ECS) { f.FailPull("ghcr.io/acme/etl:1.4", "pull access denied for ghcr.io/acme/etl") }, nil,
			launch.OutcomeFailed, launch.ExitCodeUnknown, "CannotPullContainerError: pull access denied"},
		{"lost", nil, (*awsfake.ECS).Lose, launch.OutcomeCrashed, launch.ExitCodeUnknown, "lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tt.before != nil {
				tt.before(b.ecs)
			}
			h, err := b.l.Start(t.Context(), job("run-1"), &sink{})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if tt.end != nil {
				if err := tt.end(b.ecs, h.InfrastructureID()); err != nil {
					t.Fatal(err)
				}
			}
			out := wait(t, h)
			if out.Kind != tt.kind || out.ExitCode != tt.code || !strings.Contains(out.Message, tt.contains) {
				t.Errorf("outcome = %+v, want %s, code %d, message containing %q", out, tt.kind, tt.code, tt.contains)
			}
		})
	}
}

func TestPlacementFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ecs.FailPlacement("RESOURCE:MEMORY")
	_, err := b.l.Start(t.Context(), job("run-1"), &sink{})
	if err == nil || !strings.Contains(err.Error(), "RESOURCE:MEMORY") || errors.Is(err, launch.ErrInvalidJob) {
		t.Fatalf("Start error = %v, want an infrastructure error naming RESOURCE:MEMORY", err)
	}
}

func TestCancelAndTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool
		kind    launch.OutcomeKind
		message string
	}{
		{"cancel", 0, true, launch.OutcomeCancelled, "cancelled: user asked"},
		{"timeout", 50 * time.Millisecond, false, launch.OutcomeTimedOut, "timed out after 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			j := job("run-1")
			j.Timeout = tt.timeout
			h, err := b.l.Start(t.Context(), j, &sink{})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if tt.cancel {
				if err := h.Cancel(t.Context(), "user asked"); err != nil {
					t.Fatalf("Cancel: %v", err)
				}
			}
			out := wait(t, h)
			if out.Kind != tt.kind || out.Message != tt.message || out.ExitCode != 143 {
				t.Errorf("outcome = %+v, want %s %q with code 143", out, tt.kind, tt.message)
			}
			if task := onlyTask(t, b.ecs); task.StopCode != "UserInitiated" {
				t.Errorf("stop code = %q, want UserInitiated", task.StopCode)
			}
		})
	}
}

func TestThrottlingRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Throttle(awsfake.TargetRunTask, 2)
	b.srv.Throttle(awsfake.TargetDescribeTasks, 3)
	b.srv.Throttle(awsfake.TargetGetLogEvents, 3)
	h, err := b.l.Start(t.Context(), job("run-1"), &sink{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := b.ecs.Exit(onlyTask(t, b.ecs).ARN, 0); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, h); out.Kind != launch.OutcomeSucceeded {
		t.Errorf("outcome = %+v, want Succeeded", out)
	}
	if n := len(b.srv.Calls(awsfake.TargetRunTask)); n != 3 {
		t.Errorf("RunTask calls = %d, want 3", n)
	}
}

func TestThrottlingBeyondBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Throttle(awsfake.TargetRunTask, 0)
	_, err := b.l.Start(t.Context(), job("run-1"), &sink{})
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("Start error = %v, want ThrottlingException", err)
	}
	if strings.Contains(err.Error(), awsfake.AccessKeyID) {
		t.Errorf("error %q holds the access key", err)
	}
	if n := len(b.ecs.Tasks()); n != 0 {
		t.Errorf("fake holds %d tasks, want 0", n)
	}
}

func TestSlowRunTaskReconciled(t *testing.T) {
	t.Parallel()
	srv := awsfake.Start(t)
	fake := awsfake.NewECS(srv, awsfake.NewLogs(srv))
	// The call timeout must outlast 150 concurrent reconciliations on a
	// loaded 2-core machine under -race, yet stay far below the slow RunTask.
	l := newLauncher(t, srv, "agent-1", 5*time.Second)
	fake.SlowRunTask(60 * time.Second)

	const runs = 150
	handles := make([]launch.Handle, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			handles[i], errs[i] = l.Start(t.Context(), job(fmt.Sprintf("run-%03d", i)), &sink{})
		})
	}
	wg.Wait()

	tasks := fake.Tasks()
	if len(tasks) != runs {
		t.Errorf("fake holds %d tasks, want %d", len(tasks), runs)
	}
	seen := map[string]bool{}
	for i, h := range handles {
		if errs[i] != nil {
			t.Fatalf("Start %d: %v", i, errs[i])
		}
		if seen[h.InfrastructureID()] {
			t.Errorf("task %s handed out twice", h.InfrastructureID())
		}
		seen[h.InfrastructureID()] = true
	}
	for _, task := range tasks {
		if err := fake.Exit(task.ARN, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range handles {
		if out := wait(t, h); out.Kind != launch.OutcomeSucceeded {
			t.Errorf("%s: outcome = %+v, want Succeeded", h.InfrastructureID(), out)
		}
	}
	if n := len(srv.Calls(awsfake.TargetRunTask)); n < runs {
		t.Errorf("RunTask calls = %d, want at least %d", n, runs)
	}
}

func TestReadoption(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := job("run-1")
	j.Timeout = time.Hour
	first, err := b.l.Start(t.Context(), j, &sink{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	other := newLauncher(t, b.srv, "agent-2", 5*time.Second)
	if _, err := other.Start(t.Context(), job("run-2"), &sink{}); err != nil {
		t.Fatalf("Start on agent-2: %v", err)
	}
	task := b.ecs.Tasks()[0]
	b.logs.Append(task.LogGroup, task.LogStream, "one", "two")

	// A restarted agent-1.
	restarted := newLauncher(t, b.srv, "agent-1", 5*time.Second)
	survivors, err := restarted.Survivors(t.Context())
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	if len(survivors) != 1 {
		t.Fatalf("Survivors = %+v, want only run-1", survivors)
	}
	s := survivors[0]
	if s.RunID != "run-1" || s.Attempt != 1 || s.LeaseToken != 7 || s.Timeout != time.Hour ||
		s.StopGrace != launch.DefaultStopGrace || s.InfrastructureID != first.InfrastructureID() || s.Ended {
		t.Errorf("survivor = %+v", s)
	}
	s.SkipLines = 1
	var out sink
	h, err := restarted.Adopt(t.Context(), s, &out)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	b.logs.Append(task.LogGroup, task.LogStream, "three")
	waitFor(t, "adopted output", func() bool { return len(out.output()) == 2 })
	if err := b.ecs.Exit(task.ARN, 3); err != nil {
		t.Fatal(err)
	}
	if o := wait(t, h); o.Kind != launch.OutcomeFailed || o.ExitCode != 3 {
		t.Errorf("outcome = %+v, want Failed with code 3", o)
	}
	if got := out.output(); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("adopted output = %q, want [two three]", got)
	}
	if n := len(b.srv.Calls(awsfake.TargetRunTask)); n != 2 {
		t.Errorf("RunTask calls = %d, want 2 (no second task for run-1)", n)
	}
}

func TestInvalidJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		modify func(*launch.Job)
	}{
		{"no image", func(j *launch.Job) { j.Image = "" }},
		{"env secret", func(j *launch.Job) { j.SecretRefs = map[string]string{"X": "env://X"} }},
		{"ssm version", func(j *launch.Job) { j.SecretRefs = map[string]string{"X": "aws-ssm:///a/b?version=2"} }},
		{"fargate pair", func(j *launch.Job) { j.Container.MemoryBytes = 100 << 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job("run-1")
			tt.modify(&j)
			_, err := b.l.Start(t.Context(), j, &sink{})
			if !errors.Is(err, launch.ErrInvalidJob) {
				t.Errorf("Start error = %v, want ErrInvalidJob", err)
			}
		})
	}
	if n := len(b.ecs.Tasks()); n != 0 {
		t.Errorf("fake holds %d tasks, want 0", n)
	}
}
