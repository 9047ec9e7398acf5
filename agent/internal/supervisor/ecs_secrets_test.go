package supervisor_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/supervisor"
)

// recordingLauncher records the jobs it is given; each run succeeds at once.
type recordingLauncher struct {
	mu   sync.Mutex
	jobs []launch.Job
}

func (l *recordingLauncher) Start(_ context.Context, job launch.Job, _ launch.LogSink) (launch.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs = append(l.jobs, job)
	return doneHandle{id: "task/" + job.RunID}, nil
}

func (l *recordingLauncher) started() []launch.Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]launch.Job(nil), l.jobs...)
}

// doneHandle is a run that has already succeeded.
type doneHandle struct{ id string }

func (h doneHandle) InfrastructureID() string { return h.id }

func (doneHandle) Wait(context.Context) (launch.Outcome, error) {
	return launch.Outcome{Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}, nil
}

func (doneHandle) Cancel(context.Context, string) error { return nil }

// countingSecrets resolves every reference to one fixed value and counts
// the calls.
type countingSecrets struct{ calls atomic.Int32 }

func (c *countingSecrets) Resolve(context.Context, map[string]string) (map[string]string, error) {
	c.calls.Add(1)
	return map[string]string{"DB_PASSWORD": "resolved-by-the-agent"}, nil
}

// TestECSSecretsArePassedUnresolved checks that the references of an ecs
// pool's job reach the launcher as references, for ECS to fetch, and that
// the agent resolves none of them.
func TestECSSecretsArePassedUnresolved(t *testing.T) {
	t.Parallel()
	launcher := &recordingLauncher{}
	resolver := &countingSecrets{}
	b := setup(t, setupOptions{
		server:    agenttest.Options{PoolType: "ecs"},
		config:    supervisor.Config{Secrets: resolver},
		launchers: map[string]launch.Launcher{"ecs": launcher},
	})
	job := shell("true")
	job.Env = map[string]string{"MODE": "batch"}
	job.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"}
	o := b.srv.Offer(t, job)
	r := b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); got[len(got)-1] != completed {
		t.Fatalf("reports = %v, want COMPLETED", got)
	}

	jobs := launcher.started()
	if len(jobs) != 1 {
		t.Fatalf("launcher started %d jobs, want 1", len(jobs))
	}
	want := map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"}
	if diff := cmp.Diff(want, jobs[0].SecretRefs); diff != "" {
		t.Errorf("SecretRefs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"MODE": "batch"}, jobs[0].Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	if n := resolver.calls.Load(); n != 0 {
		t.Errorf("the agent resolved secrets %d times, want never", n)
	}
}

// TestProcessSecretsAreResolved checks that other pool types still get
// resolved values and no references.
func TestProcessSecretsAreResolved(t *testing.T) {
	t.Parallel()
	resolver := &countingSecrets{}
	b := setup(t, setupOptions{config: supervisor.Config{Secrets: resolver}})
	job := shell(`test "$DB_PASSWORD" = resolved-by-the-agent`)
	job.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"}
	o := b.srv.Offer(t, job)
	r := b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); got[len(got)-1] != completed {
		t.Fatalf("reports = %v, want COMPLETED (the run saw the resolved value)", got)
	}
	if n := resolver.calls.Load(); n != 1 {
		t.Errorf("the agent resolved secrets %d times, want once", n)
	}
}
