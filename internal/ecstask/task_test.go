package ecstask

import (
	"errors"
	"maps"
	"strconv"
	"testing"
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

// wantField fails t unless err is a *FieldError for field; field "" wants
// no error.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("got %v, want a FieldError for %s", err, field)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	manyTags := map[string]string{}
	for i := range MaxTags + 1 {
		manyTags["k"+strconv.Itoa(i)] = "v"
	}
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
		{"valid everything", func(c *TaskConfig) {
			c.Cluster = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
			c.LaunchType = LaunchTypeFargate
			c.SecurityGroups = []string{"sg-0abc"}
			c.TaskRoleARN = "arn:aws:iam::123456789012:role/etl"
			c.ExecutionRoleARN = "arn:aws:iam::123456789012:role/path/exec"
			c.StreamPrefix, c.PlatformVersion, c.ContainerName = "etl", "1.4.0", "main"
			c.Tags = map[string]string{"team": "data"}
		}, ""},
		{"fixed task definition skips resources", func(c *TaskConfig) {
			c.TaskDefinition, c.CPU, c.Memory = "arn:aws:ecs:us-east-1:123456789012:task-definition/x:1", 0, 0
		}, ""},
		{"unknown launch type", func(c *TaskConfig) { c.LaunchType = "LAMBDA" }, "launch_type"},
		{"no cluster", func(c *TaskConfig) { c.Cluster = "" }, "cluster"},
		{"bad cluster", func(c *TaskConfig) { c.Cluster = "a b" }, "cluster"},
		{"no subnets for awsvpc", func(c *TaskConfig) { c.Subnets = nil }, "subnets"},
		{"malformed subnet", func(c *TaskConfig) { c.Subnets = []string{"subnet-1 "} }, "subnets"},
		{"too many subnets", func(c *TaskConfig) { c.Subnets = make([]string, MaxSubnets+1) }, "subnets"},
		{"too many security groups", func(c *TaskConfig) { c.SecurityGroups = make([]string, 6) }, "security_groups"},
		{"fargate bridge", func(c *TaskConfig) { c.NetworkMode = "bridge" }, "network_mode"},
		{"unknown network mode", func(c *TaskConfig) { c.NetworkMode = "mesh" }, "network_mode"},
		{"bad task role", func(c *TaskConfig) { c.TaskRoleARN = "etl" }, "task_role_arn"},
		{"bad execution role", func(c *TaskConfig) {
			c.ExecutionRoleARN = "arn:aws:iam::123456789012:user/exec"
		}, "execution_role_arn"},
		{"cpu fargate lacks", func(c *TaskConfig) { c.CPU = 300 }, "cpu"},
		{"memory fargate does not pair", func(c *TaskConfig) { c.CPU, c.Memory = 256, 4096 }, "memory"},
		{"memory off step", func(c *TaskConfig) { c.CPU, c.Memory = 8192, 20000 }, "memory"},
		{"negative ec2 memory", func(c *TaskConfig) { c.LaunchType, c.Memory = LaunchTypeEC2, -1 }, "memory"},
		{"launch type and strategy", func(c *TaskConfig) {
			c.LaunchType = LaunchTypeFargate
			c.CapacityProviders = []CapacityProvider{{Name: "FARGATE"}}
		}, "capacity_provider_strategy"},
		{"strategy weight", func(c *TaskConfig) {
			c.CapacityProviders = []CapacityProvider{{Name: "FARGATE", Weight: 1001}}
		}, "capacity_provider_strategy"},
		{"strategy repeats", func(c *TaskConfig) {
			c.CapacityProviders = []CapacityProvider{{Name: "FARGATE"}, {Name: "FARGATE"}}
		}, "capacity_provider_strategy"},
		{"platform version on ec2", func(c *TaskConfig) {
			c.LaunchType, c.PlatformVersion = LaunchTypeEC2, "1.4.0"
		}, "platform_version"},
		{"bad platform version", func(c *TaskConfig) { c.PlatformVersion = "newest" }, "platform_version"},
		{"no log group", func(c *TaskConfig) { c.LogGroup = "" }, "log_group"},
		{"bad log group", func(c *TaskConfig) { c.LogGroup = "runs:all" }, "log_group"},
		{"bad stream prefix", func(c *TaskConfig) { c.StreamPrefix = "a*b" }, "stream_prefix"},
		{"task definition not an ARN", func(c *TaskConfig) { c.TaskDefinition = "etl:3" }, "task_definition"},
		{"reserved tag", func(c *TaskConfig) { c.Tags = map[string]string{"ferry:run-id": "x"} }, "tags"},
		{"aws tag", func(c *TaskConfig) { c.Tags = map[string]string{"AWS:x": "x"} }, "tags"},
		{"too many tags", func(c *TaskConfig) { c.Tags = manyTags }, "tags"},
		{"bad family prefix", func(c *TaskConfig) { c.FamilyPrefix = "a b" }, "family_prefix"},
		{"bad container name", func(c *TaskConfig) { c.ContainerName = "run/1" }, "container_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validTask()
			c.Tags = maps.Clone(c.Tags)
			tt.modify(&c)
			wantField(t, c.Validate(), tt.field)
		})
	}
}

func TestCheckResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fargate     bool
		cpu, memory int32
		field       string
	}{
		{true, 256, 512, ""},
		{true, 256, 2048, ""},
		{true, 256, 2560, "memory"},
		{true, 512, 1536, "memory"},
		{true, 4096, 30720, ""},
		{true, 16384, 122880, ""},
		{true, 16384, 36000, "memory"},
		{true, 0, 0, "cpu"},
		{true, 3000, 8192, "cpu"},
		{false, 0, 0, ""},
		{false, 3000, 100, ""},
		{false, -1, 100, "cpu"},
	}
	for _, tt := range tests {
		name := strconv.FormatBool(tt.fargate) + "/" + strconv.Itoa(int(tt.cpu)) + "/" + strconv.Itoa(int(tt.memory))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantField(t, CheckResources(tt.fargate, tt.cpu, tt.memory), tt.field)
		})
	}
}
