package ecstask

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		json  string
		field string // empty means it parses
	}{
		{"empty", ``, ""},
		{"other variables ignored", `{"image":"x","env":{"A":"b"},"family_prefix":"x"}`, ""},
		{"nulls are absent", `{"cluster":null,"tags":null}`, ""},
		{"all", `{"cluster":"c","launch_type":"EC2","capacity_provider_strategy":[{"name":"p","weight":1,"base":0}],
			"subnets":["subnet-1"],"security_groups":["sg-1"],"assign_public_ip":true,"network_mode":"awsvpc",
			"task_role_arn":"r","execution_role_arn":"e","cpu":256,"memory":512,"log_group":"g","stream_prefix":"s",
			"platform_version":"1.4.0","task_definition":"t","container_name":"n","tags":{"a":"b"}}`, ""},
		{"cluster not a string", `{"cluster":3}`, "cluster"},
		{"subnets not a list", `{"subnets":"subnet-1"}`, "subnets"},
		{"cpu fraction", `{"cpu":0.5}`, "cpu"},
		{"cpu string", `{"cpu":"1024"}`, "cpu"},
		{"memory too large for int32", `{"memory":99999999999}`, "memory"},
		{"public ip not a boolean", `{"assign_public_ip":"yes"}`, "assign_public_ip"},
		{"strategy unknown member", `{"capacity_provider_strategy":[{"name":"p","wieght":1}]}`, "capacity_provider_strategy"},
		{"tags not strings", `{"tags":{"a":1}}`, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseVars(tt.json)
			wantField(t, err, tt.field)
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		json  string
		field string // empty means valid
	}{
		{"nothing", `{}`, ""},
		{"left to the agent", `{"cpu":256}`, ""},
		{"unchecked pair without a launch type", `{"cpu":256,"memory":4096}`, ""},
		{"fargate pair", `{"launch_type":"FARGATE","cpu":512,"memory":2048}`, ""},
		{"spot pair", `{"capacity_provider_strategy":[{"name":"FARGATE_SPOT","weight":1}],"cpu":1024,"memory":3072}`, ""},
		{"ec2 odd sizes", `{"launch_type":"EC2","network_mode":"bridge","cpu":100,"memory":300}`, ""},
		{"empty subnets with bridge", `{"launch_type":"EC2","network_mode":"bridge","subnets":[]}`, ""},
		{"empty strategy with launch type", `{"launch_type":"EC2","capacity_provider_strategy":[]}`, ""},
		{"fixed task definition skips the pair", `{"launch_type":"FARGATE","cpu":300,
			"task_definition":"arn:aws:ecs:us-east-1:123456789012:task-definition/etl:3"}`, ""},
		{"full pool", `{"cluster":"prod","launch_type":"FARGATE","subnets":["subnet-0a","subnet-0b"],
			"security_groups":["sg-1"],"assign_public_ip":false,"network_mode":"awsvpc",
			"task_role_arn":"arn:aws:iam::123456789012:role/etl","execution_role_arn":"arn:aws:iam::123456789012:role/exec",
			"cpu":2048,"memory":8192,"log_group":"/ferry/etl","stream_prefix":"etl","platform_version":"LATEST",
			"container_name":"main","tags":{"team":"data"}}`, ""},

		{"unknown launch type", `{"launch_type":"LAMBDA"}`, "launch_type"},
		{"lower-case launch type", `{"launch_type":"fargate"}`, "launch_type"},
		{"empty launch type", `{"launch_type":""}`, "launch_type"},
		{"launch type and strategy", `{"launch_type":"EC2","capacity_provider_strategy":[{"name":"cp"}]}`,
			"capacity_provider_strategy"},
		{"strategy without name", `{"capacity_provider_strategy":[{"weight":1}]}`, "capacity_provider_strategy"},
		{"no subnets for awsvpc", `{"subnets":[]}`, "subnets"},
		{"no subnets for explicit awsvpc", `{"network_mode":"awsvpc","subnets":[]}`, "subnets"},
		{"no subnets for fargate", `{"launch_type":"FARGATE","subnets":[]}`, "subnets"},
		{"malformed subnet", `{"subnets":["subnet_1"]}`, "subnets"},
		{"subnets in one string", `{"subnets":["subnet-1, subnet-2"]}`, "subnets"},
		{"malformed security group", `{"security_groups":["sg 1"]}`, "security_groups"},
		{"fargate bridge", `{"launch_type":"FARGATE","network_mode":"bridge"}`, "network_mode"},
		{"spot host", `{"capacity_provider_strategy":[{"name":"FARGATE_SPOT"}],"network_mode":"host"}`, "network_mode"},
		{"unknown network mode", `{"network_mode":"mesh"}`, "network_mode"},
		{"fargate cpu alone", `{"launch_type":"FARGATE","cpu":300}`, "cpu"},
		{"fargate pair not offered", `{"launch_type":"FARGATE","cpu":256,"memory":4096}`, "memory"},
		{"zero cpu", `{"cpu":0}`, "cpu"},
		{"negative memory", `{"memory":-512}`, "memory"},
		{"bad task role ARN", `{"task_role_arn":"arn:aws:iam::12345:role/x"}`, "task_role_arn"},
		{"bad execution role ARN", `{"execution_role_arn":"exec"}`, "execution_role_arn"},
		{"task definition by family", `{"task_definition":"etl"}`, "task_definition"},
		{"reserved tag", `{"tags":{"ferry:run-id":"x"}}`, "tags"},
		{"empty cluster", `{"cluster":""}`, "cluster"},
		{"cluster ARN of a service", `{"cluster":"arn:aws:ecs:us-east-1:123456789012:service/x"}`, "cluster"},
		{"empty log group", `{"log_group":""}`, "log_group"},
		{"platform version on ec2", `{"launch_type":"EC2","platform_version":"1.4.0"}`, "platform_version"},
		{"bad container name", `{"container_name":"a.b"}`, "container_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := ParseVars(tt.json)
			if err != nil {
				t.Fatalf("ParseVars: %v", err)
			}
			wantField(t, v.Check(), tt.field)
		})
	}
}

func TestOver(t *testing.T) {
	t.Parallel()
	base := TaskConfig{
		Cluster:           "agent",
		CapacityProviders: []CapacityProvider{{Name: "FARGATE_SPOT", Weight: 1}},
		Subnets:           []string{"subnet-agent"},
		SecurityGroups:    []string{"sg-agent"},
		TaskRoleARN:       "arn:aws:iam::123456789012:role/agent",
		CPU:               256,
		Memory:            512,
		LogGroup:          "/agent",
		FamilyPrefix:      "acme-",
		Tags:              map[string]string{"team": "ops", "cost": "1"},
	}
	tests := []struct {
		name string
		json string
		want func(*TaskConfig)
	}{
		{"nothing", `{}`, func(*TaskConfig) {}},
		{"fields replace", `{"cluster":"pool","subnets":["subnet-pool"],"cpu":1024,"memory":2048,
			"task_role_arn":"arn:aws:iam::123456789012:role/pool","assign_public_ip":true}`, func(c *TaskConfig) {
			c.Cluster, c.Subnets, c.CPU, c.Memory = "pool", []string{"subnet-pool"}, 1024, 2048
			c.TaskRoleARN, c.AssignPublicIP = "arn:aws:iam::123456789012:role/pool", true
		}},
		{"tags merge by key", `{"tags":{"team":"data","env":"prod"}}`, func(c *TaskConfig) {
			c.Tags = map[string]string{"team": "data", "cost": "1", "env": "prod"}
		}},
		{"launch type drops the strategy", `{"launch_type":"EC2"}`, func(c *TaskConfig) {
			c.LaunchType, c.CapacityProviders = LaunchTypeEC2, nil
		}},
		{"strategy replaces the strategy", `{"capacity_provider_strategy":[{"name":"FARGATE","weight":2,"base":1}]}`,
			func(c *TaskConfig) {
				c.CapacityProviders = []CapacityProvider{{Name: "FARGATE", Weight: 2, Base: 1}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := ParseVars(tt.json)
			if err != nil {
				t.Fatalf("ParseVars: %v", err)
			}
			want := cloneTask(base)
			tt.want(&want)
			if diff := cmp.Diff(want, v.Over(base)); diff != "" {
				t.Errorf("Over (-want +got):\n%s", diff)
			}
		})
	}

	// A strategy laid over a launch type clears it; base is not changed.
	withType := base
	withType.LaunchType, withType.CapacityProviders = LaunchTypeFargate, nil
	v, err := ParseVars(`{"capacity_provider_strategy":[{"name":"FARGATE_SPOT"}],"tags":{"x":"y"}}`)
	if err != nil {
		t.Fatal(err)
	}
	got := v.Over(withType)
	if got.LaunchType != "" || len(got.CapacityProviders) != 1 {
		t.Errorf("Over = launch type %q, strategy %v; want the strategy alone", got.LaunchType, got.CapacityProviders)
	}
	if _, ok := base.Tags["x"]; ok || withType.LaunchType != LaunchTypeFargate {
		t.Error("Over changed its base")
	}
}

// cloneTask returns a copy of c whose maps and slices are its own.
func cloneTask(c TaskConfig) TaskConfig {
	out := c
	out.Tags = map[string]string{}
	for k, v := range c.Tags {
		out.Tags[k] = v
	}
	out.CapacityProviders = append([]CapacityProvider(nil), c.CapacityProviders...)
	return out
}
