package ecs

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func validTask() TaskConfig {
	return TaskConfig{
		Cluster:  "ferry",
		Subnets:  []string{"subnet-1"},
		CPU:      1024,
		Memory:   4096,
		LogGroup: "/ferry/runs",
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*TaskConfig)
		field  string // empty means valid
	}{
		{"valid fargate", func(*TaskConfig) {}, ""},
		{"valid ec2 bridge", func(c *TaskConfig) {
			c.LaunchType, c.NetworkMode, c.Subnets, c.CPU, c.Memory = LaunchTypeEC2, "bridge", nil, 100, 300
		}, ""},
		{"valid spot strategy", func(c *TaskConfig) {
			c.CapacityProviders = []CapacityProvider{{Name: "FARGATE_SPOT", Weight: 1}}
		}, ""},
		{"fixed task definition skips resources", func(c *TaskConfig) {
			c.TaskDefinition, c.CPU, c.Memory = "arn:aws:ecs:us-east-1:123456789012:task-definition/x:1", 0, 0
		}, ""},
		{"unknown launch type", func(c *TaskConfig) { c.LaunchType = "LAMBDA" }, "launch_type"},
		{"no cluster", func(c *TaskConfig) { c.Cluster = "" }, "cluster"},
		{"no subnets for awsvpc", func(c *TaskConfig) { c.Subnets = nil }, "subnets"},
		{"too many security groups", func(c *TaskConfig) { c.SecurityGroups = make([]string, 6) }, "security_groups"},
		{"fargate bridge", func(c *TaskConfig) { c.NetworkMode = "bridge" }, "network_mode"},
		{"unknown network mode", func(c *TaskConfig) { c.NetworkMode = "mesh" }, "network_mode"},
		{"cpu fargate lacks", func(c *TaskConfig) { c.CPU = 300 }, "cpu"},
		{"memory fargate does not pair", func(c *TaskConfig) { c.CPU, c.Memory = 256, 4096 }, "memory"},
		{"memory off step", func(c *TaskConfig) { c.CPU, c.Memory = 8192, 20000 }, "memory"},
		{"launch type and strategy", func(c *TaskConfig) {
			c.LaunchType = LaunchTypeFargate
			c.CapacityProviders = []CapacityProvider{{Name: "FARGATE"}}
		}, "capacity_provider_strategy"},
		{"no log group", func(c *TaskConfig) { c.LogGroup = "" }, "log_group"},
		{"reserved tag", func(c *TaskConfig) { c.Tags = map[string]string{"ferry:run-id": "x"} }, "tags"},
		{"bad family prefix", func(c *TaskConfig) { c.FamilyPrefix = "a b" }, "family_prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validTask()
			tt.modify(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate = %v, want a FieldError for %s", err, tt.field)
			}
		})
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	container := func(code *int32, reason string) []types.Container {
		return []types.Container{
			{Name: aws.String("sidecar"), ExitCode: aws.Int32(9)},
			{Name: aws.String("run"), ExitCode: code, Reason: aws.String(reason)},
		}
	}
	tests := []struct {
		name string
		task types.Task
		want launch.Outcome
	}{
		{"exit 0", types.Task{Containers: container(aws.Int32(0), "")},
			launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}},
		{"exit 2", types.Task{Containers: container(aws.Int32(2), "")},
			launch.Outcome{ExitCode: 2, Kind: launch.OutcomeFailed, Message: "exited with code 2"}},
		{"oom", types.Task{Containers: container(aws.Int32(137), "OutOfMemoryError: Container killed due to memory usage")},
			launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed,
				Message: "out of memory: OutOfMemoryError: Container killed due to memory usage"}},
		{"pull", types.Task{StopCode: types.TaskStopCodeTaskFailedToStart,
			StoppedReason: aws.String("CannotPullContainerError: not found"), Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeFailed,
				Message: "image pull failed: CannotPullContainerError: not found"}},
		{"spot", types.Task{StopCode: types.TaskStopCodeSpotInterruption, StoppedReason: aws.String("gone"),
			Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed, Message: "ECS stopped the task: gone"}},
		{"no exit code", types.Task{StoppedReason: aws.String("ResourceInitializationError: x"), Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed,
				Message: "task stopped without an exit code: ResourceInitializationError: x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := outcomeOf(tt.task, "run"); got != tt.want {
				t.Errorf("outcomeOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClientTokenAndStartedBy(t *testing.T) {
	t.Parallel()
	a, b := clientToken("run-1", 1), clientToken("run-1", 2)
	if a == b || a != clientToken("run-1", 1) || len(a) > 64 {
		t.Errorf("client tokens %q and %q: want distinct per attempt, stable, at most 64 characters", a, b)
	}
	if got := startedBy("0191a2b3-c4d5-7e6f-8091-a2b3c4d5e6f7"); got != "ferry-0191a2b3-c4d5-7e6f-8091-a2b3c4d5" {
		t.Errorf("startedBy = %q", got)
	}
}
