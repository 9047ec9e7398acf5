package ecs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// TestRemoveStopsOnlyOwnTasks plays an agent restarted after its runs
// ended on the control plane: it stops the tasks of those runs, and refuses
// or leaves alone every other task it may be pointed at.
func TestRemoveStopsOnlyOwnTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	start := func(l *ecs.Launcher, runID string, vars ...string) string {
		t.Helper()
		j := job(runID)
		j.Variables = strings.Join(vars, "")
		h, err := l.Start(ctx, j, &sink{})
		if err != nil {
			t.Fatalf("Start %s: %v", runID, err)
		}
		return h.InfrastructureID()
	}
	running := start(b.l, "run-live")
	ended := start(b.l, "run-ended")
	if err := b.ecs.Exit(ended, 0); err != nil {
		t.Fatal(err)
	}
	otherAgent := start(newLauncher(t, b.srv, "agent-2", 5*time.Second), "run-other-agent")

	elsewhere, err := ecs.New(ecs.Config{
		AWS: b.srv.Config(), AccountID: awsfake.AccountID, Task: func() ecs.TaskConfig {
			tc := taskConfig()
			tc.Cluster = "elsewhere"
			return tc
		}(),
		AgentName: "agent-1", PollInterval: 10 * time.Millisecond, LogInterval: 10 * time.Millisecond,
		CallTimeout: 5 * time.Second, MaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	otherCluster := start(elsewhere, "run-elsewhere")
	// A task that job variables placed in another of the agent's clusters.
	inOtherCluster := start(b.l, "run-placed", `{"cluster":"pool-cluster"}`)

	// Tasks in the same cluster that Ferry did not start: one started by
	// someone else, one whose startedBy merely looks like Ferry's.
	client := awsecs.NewFromConfig(b.srv.Config())
	foreign := func(by string) string {
		t.Helper()
		out, err := client.RunTask(ctx, &awsecs.RunTaskInput{
			Cluster: aws.String("ferry"), TaskDefinition: aws.String(b.ecs.Tasks()[0].TaskDefinition),
			LaunchType: types.LaunchTypeFargate, StartedBy: aws.String(by),
			NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
				Subnets: []string{"subnet-1"},
			}},
		})
		if err != nil {
			t.Fatalf("RunTask by %s: %v", by, err)
		}
		return aws.ToString(out.Tasks[0].TaskArn)
	}
	unrelated := foreign("deploy-bot")
	lookalike := foreign("ferry-lookalike")

	restarted := newLauncher(t, b.srv, "agent-1", 5*time.Second)
	tests := []struct {
		name    string
		arn     string
		wantErr string // empty: no error
		// wantStop reports whether the call stops the task.
		wantStop bool
	}{
		{name: "running task of an ended run", arn: running, wantStop: true},
		{name: "running task of an ended run in another of the agent's clusters", arn: inOtherCluster, wantStop: true},
		{name: "task already stopped", arn: ended},
		{name: "task ECS no longer knows", arn: strings.Replace(running, "/ferry/", "/ferry/0", 1)},
		{name: "task of another agent", arn: otherAgent, wantErr: `belongs to agent "agent-2", not "agent-1"`},
		{name: "task not started by Ferry", arn: unrelated, wantErr: "not started by Ferry"},
		{name: "Ferry-like startedBy without run tags", arn: lookalike, wantErr: "not started by Ferry"},
		{name: "task in another cluster", arn: otherCluster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopsBefore := stopCalls(b.srv, tt.arn)
			statusBefore := taskOf(b.ecs, tt.arn).LastStatus
			err := restarted.Remove(ctx, tt.arn)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Remove: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Remove error = %v, want one containing %q", err, tt.wantErr)
			}
			stops := stopCalls(b.srv, tt.arn) - stopsBefore
			task := taskOf(b.ecs, tt.arn)
			if !tt.wantStop {
				if stops != 0 || task.LastStatus != statusBefore {
					t.Errorf("%d StopTask calls, task %s → %s; want it left alone", stops, statusBefore, task.LastStatus)
				}
				return
			}
			if stops != 1 || task.LastStatus != "STOPPED" || task.StopCode != "UserInitiated" {
				t.Errorf("%d StopTask calls, task %s (%s); want one call and the task stopped by the user",
					stops, task.LastStatus, task.StopCode)
			}
			runID := task.Tags["ferry:run-id"]
			if !strings.Contains(task.StoppedReason, "run "+runID+" attempt 1") {
				t.Errorf("stop reason %q does not name run %s attempt 1", task.StoppedReason, runID)
			}
		})
	}

	// After Survivors has seen a task stopped, Remove does not read it again.
	again := newLauncher(t, b.srv, "agent-1", 5*time.Second)
	if _, err := again.Survivors(ctx); err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	// Other launchers of the test still poll their own tasks.
	describes := func() int {
		n := 0
		for _, c := range b.srv.Calls(awsfake.TargetDescribeTasks) {
			if strings.Contains(string(c.Body), ended) {
				n++
			}
		}
		return n
	}
	before := describes()
	if err := again.Remove(ctx, ended); err != nil {
		t.Errorf("Remove of a task Survivors found stopped: %v", err)
	}
	if n := describes() - before; n != 0 {
		t.Errorf("Remove of a task Survivors found stopped made %d DescribeTasks calls, want 0", n)
	}

	if n := len(b.srv.InvalidRequests()); n != 0 {
		t.Errorf("the launcher sent %d requests the real API would refuse: %+v", n, b.srv.InvalidRequests())
	}
	if task := taskOf(b.ecs, otherCluster); task.LastStatus != "RUNNING" {
		t.Errorf("task in another cluster is %s, want RUNNING", task.LastStatus)
	}
}

// stopCalls counts the StopTask calls for the task arn.
func stopCalls(srv *awsfake.Server, arn string) int {
	n := 0
	for _, c := range srv.Calls(awsfake.TargetStopTask) {
		if strings.Contains(string(c.Body), `"task":"`+arn+`"`) {
			n++
		}
	}
	return n
}

// taskOf returns the fake's task arn, or the zero task when it has none.
func taskOf(f *awsfake.ECS, arn string) awsfake.ECSTask {
	for _, task := range f.Tasks() {
		if task.ARN == arn {
			return task
		}
	}
	return awsfake.ECSTask{}
}
