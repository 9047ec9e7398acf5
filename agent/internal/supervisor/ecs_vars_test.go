package supervisor_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// TestECSJobVariables sends signed work orders whose job variables set ECS
// task settings through the supervisor to the real ECS launcher on the AWS
// fake: valid ones reach RunTask over the agent's own settings, and an
// invalid final configuration fails the run, naming the variable, without
// registering or running anything.
func TestECSJobVariables(t *testing.T) {
	t.Parallel()
	srv := awsfake.Start(t)
	fake := awsfake.NewECS(srv, awsfake.NewLogs(srv))
	l, err := ecs.New(ecs.Config{
		AWS: srv.Config(),
		Task: ecs.TaskConfig{
			Cluster: "agent-cluster", LaunchType: ecs.LaunchTypeFargate, Subnets: []string{"subnet-agent"},
			CPU: 256, Memory: 512, LogGroup: "/agent/runs",
		},
		// The pool's job variables place runs in this cluster.
		OtherClusters: []string{"pool-cluster"},
		AgentName:     "agent-1",
		PollInterval:  10 * time.Millisecond,
		LogInterval:   10 * time.Millisecond,
		MaxBackoff:    time.Millisecond,
	})
	if err != nil {
		t.Fatalf("ecs.New: %v", err)
	}
	b := setup(t, setupOptions{
		server:    agenttest.Options{PoolType: "ecs"},
		launchers: map[string]launch.Launcher{"ecs": l},
	})

	bad := ecsJob(`{"launch_type":"FARGATE","cpu":256,"memory":4096}`)
	o := b.srv.Offer(t, bad)
	r := b.waitFinished(t, o.GetRunId())
	last := r.Reports[len(r.Reports)-1]
	if last.GetKind() != failed || !strings.Contains(last.GetMessage(), "memory") {
		t.Fatalf("reports = %v, last message %q; want FAILED naming memory", r.Kinds(), last.GetMessage())
	}
	for _, target := range []string{awsfake.TargetRegisterTaskDefinition, awsfake.TargetRunTask} {
		if n := len(srv.Calls(target)); n != 0 {
			t.Fatalf("an invalid task configuration made %d %s calls, want none", n, target)
		}
	}

	good := ecsJob(`{"cluster":"pool-cluster","subnets":["subnet-pool"],"cpu":1024,"memory":2048,
		"task_role_arn":"arn:aws:iam::123456789012:role/pool","tags":{"team":"etl"}}`)
	o = b.srv.Offer(t, good)
	runID := o.GetRunId()
	b.srv.WaitFor(t, "run "+runID+" to start", func(s *agenttest.Server) bool {
		return len(s.Run(runID).Reports) > 0
	})
	if rep := b.run(runID).Reports[0]; rep.GetKind() != started {
		t.Fatalf("first report is %v %q, want STARTED", rep.GetKind(), rep.GetMessage())
	}
	calls := srv.Calls(awsfake.TargetRunTask)
	if len(calls) != 1 {
		t.Fatalf("RunTask calls = %d, want 1", len(calls))
	}
	var in struct {
		Cluster              string
		NetworkConfiguration struct {
			AwsvpcConfiguration struct{ Subnets []string }
		}
	}
	if err := json.Unmarshal(calls[0].Body, &in); err != nil {
		t.Fatal(err)
	}
	if in.Cluster != "pool-cluster" || strings.Join(in.NetworkConfiguration.AwsvpcConfiguration.Subnets, ",") != "subnet-pool" {
		t.Errorf("RunTask cluster %q, subnets %v; want the job variables'", in.Cluster,
			in.NetworkConfiguration.AwsvpcConfiguration.Subnets)
	}
	task := fake.Tasks()[0]
	if task.Tags["team"] != "etl" {
		t.Errorf("task tags = %v, want team=etl", task.Tags)
	}
	if err := fake.Exit(task.ARN, 0); err != nil {
		t.Fatal(err)
	}
	r = b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); got[len(got)-1] != completed {
		t.Fatalf("reports = %v, want COMPLETED", got)
	}
}

func ecsJob(vars string) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{
		Deployment:   "etl",
		Image:        "ghcr.io/acme/etl:1.4",
		Command:      []string{"etl"},
		PoolType:     "ecs",
		JobVariables: vars,
	}
}
