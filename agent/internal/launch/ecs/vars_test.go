package ecs_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// lastBody decodes the body of the last call to target.
func lastBody(t *testing.T, srv *awsfake.Server, target string) map[string]any {
	t.Helper()
	calls := srv.Calls(target)
	if len(calls) == 0 {
		t.Fatalf("no %s call", target)
	}
	var body map[string]any
	if err := json.Unmarshal(calls[len(calls)-1].Body, &body); err != nil {
		t.Fatalf("decode %s body: %v", target, err)
	}
	return body
}

// at returns the value at the path of keys and indexes into v.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestJobVariablesReachRunTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := job("run-vars")
	j.Variables = `{"image":"ignored-here","cluster":"pool-cluster","subnets":["subnet-pool1","subnet-pool2"],
		"security_groups":["sg-pool"],"assign_public_ip":true,
		"task_role_arn":"arn:aws:iam::123456789012:role/pool-task",
		"execution_role_arn":"arn:aws:iam::123456789012:role/pool-exec",
		"cpu":1024,"memory":3072,"log_group":"/pool/runs","stream_prefix":"pool","container_name":"main",
		"platform_version":"1.4.0","tags":{"team":"etl","env":"prod"}}`
	var s sink
	h, err := b.l.Start(t.Context(), j, &s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	run := lastBody(t, b.srv, awsfake.TargetRunTask)
	vpc := at(run, "networkConfiguration", "awsvpcConfiguration")
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"cluster", at(run, "cluster"), "pool-cluster"},
		{"launch type", at(run, "launchType"), "FARGATE"},
		{"subnets", at(vpc, "subnets"), []any{"subnet-pool1", "subnet-pool2"}},
		{"security groups", at(vpc, "securityGroups"), []any{"sg-pool"}},
		{"public ip", at(vpc, "assignPublicIp"), "ENABLED"},
		{"platform version", at(run, "platformVersion"), "1.4.0"},
		{"container override", at(run, "overrides", "containerOverrides", 0, "name"), "main"},
	}
	reg := lastBody(t, b.srv, awsfake.TargetRegisterTaskDefinition)
	checks = append(checks, []struct {
		what string
		got  any
		want any
	}{
		{"task role", at(reg, "taskRoleArn"), "arn:aws:iam::123456789012:role/pool-task"},
		{"execution role", at(reg, "executionRoleArn"), "arn:aws:iam::123456789012:role/pool-exec"},
		{"cpu", at(reg, "cpu"), "1024"},
		{"memory", at(reg, "memory"), "3072"},
		{"container", at(reg, "containerDefinitions", 0, "name"), "main"},
		{"log group", at(reg, "containerDefinitions", 0, "logConfiguration", "options", "awslogs-group"), "/pool/runs"},
		{"stream prefix", at(reg, "containerDefinitions", 0, "logConfiguration", "options", "awslogs-stream-prefix"), "pool"},
	}...)
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.what, diff)
		}
	}
	task := onlyTask(t, b.ecs)
	// The pool's tags are laid over the agent's by key; the launcher's own
	// stay.
	for k, want := range map[string]string{"team": "etl", "env": "prod", "ferry:run-id": "run-vars"} {
		if task.Tags[k] != want {
			t.Errorf("task tag %s = %q, want %q (tags %v)", k, task.Tags[k], want, task.Tags)
		}
	}

	// The handle polls the pool's cluster and reads the pool's log group.
	b.logs.Append(task.LogGroup, task.LogStream, "from the pool's log group")
	waitFor(t, "log line", func() bool { return len(s.output()) == 1 })
	if task.LogGroup != "/pool/runs" {
		t.Errorf("task log group = %q, want /pool/runs", task.LogGroup)
	}
	if err := b.ecs.Exit(task.ARN, 0); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, h); out.Kind != launch.OutcomeSucceeded {
		t.Errorf("outcome = %+v, want Succeeded", out)
	}
	for _, c := range b.srv.Calls(awsfake.TargetDescribeTasks) {
		var in struct{ Cluster string }
		if err := json.Unmarshal(c.Body, &in); err != nil || in.Cluster != "pool-cluster" {
			t.Fatalf("DescribeTasks asked cluster %q, want pool-cluster", in.Cluster)
		}
	}

	// Without variables the agent's settings apply again.
	h2, err := b.l.Start(t.Context(), job("run-plain"), &sink{})
	if err != nil {
		t.Fatalf("Start without variables: %v", err)
	}
	run = lastBody(t, b.srv, awsfake.TargetRunTask)
	if at(run, "cluster") != "ferry" || !slices.Equal(toStrings(at(run, "networkConfiguration",
		"awsvpcConfiguration", "subnets")), []string{"subnet-1"}) {
		t.Errorf("RunTask without variables = cluster %v, network %v; want the agent's", at(run, "cluster"),
			at(run, "networkConfiguration"))
	}
	if err := h2.Cancel(t.Context(), "test over"); err != nil {
		t.Fatal(err)
	}
	wait(t, h2)
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func TestInvalidJobVariablesFailWithoutRunTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  string
		field string
	}{
		{"wrong type", `{"cluster":3}`, "cluster"},
		{"unknown launch type", `{"launch_type":"LAMBDA"}`, "launch_type"},
		{"pair fargate lacks", `{"launch_type":"FARGATE","cpu":256,"memory":4096}`, "memory"},
		// Each variable is fine; the agent's settings make the whole wrong.
		{"memory the agent's cpu cannot pair", `{"memory":8192}`, "memory"},
		{"bridge on the agent's Fargate", `{"network_mode":"bridge"}`, "network_mode"},
		{"cleared log group", `{"log_group":""}`, "log_group"},
		{"no subnets", `{"subnets":[]}`, "subnets"},
		{"bad role", `{"task_role_arn":"admin"}`, "task_role_arn"},
		{"reserved tag", `{"tags":{"ferry:agent":"other"}}`, "tags"},
		// The agent could not find such a task again after a restart.
		{"cluster the agent does not list", `{"cluster":"elsewhere"}`, "cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			j := job("run-bad")
			j.Variables = tt.vars
			_, err := b.l.Start(t.Context(), j, &sink{})
			var fe *ecs.FieldError
			if !errors.Is(err, launch.ErrInvalidJob) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Start error = %v, want an invalid job naming %s", err, tt.field)
			}
			if calls := b.srv.Calls(""); len(calls) != 0 {
				t.Errorf("Start made %d AWS calls (first %s), want none", len(calls), calls[0].Target)
			}
		})
	}
}
