package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

const ecsSection = `ecs:
  account_id: "123456789012"
  region: eu-west-1
  cluster: ferry
  capacity_providers:
    - {name: FARGATE_SPOT, weight: 3, base: 1}
    - {name: FARGATE, weight: 1}
  subnets: [subnet-a, subnet-b]
  security_groups: [sg-1]
  assign_public_ip: true
  network_mode: awsvpc
  task_role_arn: arn:aws:iam::123456789012:role/ferry-run
  execution_role_arn: arn:aws:iam::123456789012:role/ferry-exec
  cpu: 512
  memory: 1024
  log_group: /ferry/runs
  stream_prefix: runs
  platform_version: "1.4.0"
  container_name: main
  family_prefix: acme-
  tags: {team: data}
`

func TestECSConfig(t *testing.T) {
	t.Parallel()
	file := writeFile(t, t.TempDir(), "agent.yaml", ecsSection)
	env := map[string]string{"FERRY_AGENT_TOKEN": "t", "FERRY_SERVER": "http://127.0.0.1:8080"}
	c, err := parseConfig([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	want := ecs.TaskConfig{
		Cluster: "ferry",
		CapacityProviders: []ecs.CapacityProvider{
			{Name: "FARGATE_SPOT", Weight: 3, Base: 1},
			{Name: "FARGATE", Weight: 1},
		},
		Subnets:          []string{"subnet-a", "subnet-b"},
		SecurityGroups:   []string{"sg-1"},
		AssignPublicIP:   true,
		NetworkMode:      "awsvpc",
		TaskRoleARN:      "arn:aws:iam::123456789012:role/ferry-run",
		ExecutionRoleARN: "arn:aws:iam::123456789012:role/ferry-exec",
		CPU:              512,
		Memory:           1024,
		LogGroup:         "/ferry/runs",
		StreamPrefix:     "runs",
		PlatformVersion:  "1.4.0",
		ContainerName:    "main",
		FamilyPrefix:     "acme-",
		Tags:             map[string]string{"team": "data"},
	}
	if diff := cmp.Diff(want, c.ecs.task); diff != "" {
		t.Errorf("task config (-want +got):\n%s", diff)
	}
	if !c.ecs.configured || c.ecs.region != "eu-west-1" || c.ecs.accountID != "123456789012" || c.ecs.endpoint != "" {
		t.Errorf("ecs settings = configured %t, region %q, account %q, endpoint %q",
			c.ecs.configured, c.ecs.region, c.ecs.accountID, c.ecs.endpoint)
	}
}

func TestECSConfigErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FERRY_AGENT_TOKEN": "t", "FERRY_SERVER": "http://127.0.0.1:8080"}
	base := "ecs:\n  cluster: ferry\n  log_group: /ferry/runs\n  cpu: 256\n  memory: 512\n"
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{
			name:    "no subnets",
			content: base,
			want:    []string{"agent.yaml:2:3:", "ecs.subnets: awsvpc networking needs at least one subnet"},
		},
		{
			name:    "no cluster",
			content: "ecs:\n  subnets: [s]\n  log_group: g\n",
			want:    []string{"ecs.cluster: is empty"},
		},
		{
			name:    "unknown launch type",
			content: base + "  subnets: [s]\n  launch_type: LAMBDA\n",
			want:    []string{"agent.yaml:7:16:", `ecs.launch_type: unknown launch type "LAMBDA"`},
		},
		{
			name:    "launch type and capacity providers",
			content: base + "  subnets: [s]\n  launch_type: FARGATE\n  capacity_providers: [{name: FARGATE}]\n",
			want:    []string{"agent.yaml:8:23:", "ecs.capacity_providers: cannot be combined with launch type FARGATE"},
		},
		{
			name:    "fargate memory",
			content: "ecs:\n  cluster: c\n  log_group: g\n  subnets: [s]\n  cpu: 256\n  memory: 4096\n",
			want:    []string{"agent.yaml:6:11:", "ecs.memory: Fargate does not pair 4096 MiB"},
		},
		{
			name:    "unknown key in a capacity provider",
			content: base + "  subnets: [s]\n  capacity_providers:\n    - {name: FARGATE, wieght: 1}\n",
			want:    []string{"agent.yaml:8:23:", `unknown key "wieght" in ecs.capacity_providers[0]`},
		},
		{
			name:    "unknown key",
			content: base + "  subnet: [s]\n",
			want:    []string{"agent.yaml:6:3:", `unknown key "subnet" in ecs`, "subnets"},
		},
		{
			name:    "bad account id",
			content: base + "  subnets: [s]\n  account_id: acme\n",
			want:    []string{"agent.yaml:7:15:", `ecs.account_id: "acme" is not a 12-digit AWS account id`},
		},
		{
			name:    "bad endpoint",
			content: base + "  subnets: [s]\n  endpoint: 127.0.0.1:4566\n",
			want:    []string{"ecs.endpoint:", "is not an http or https URL"},
		},
		{
			name:    "cpu not a number",
			content: "ecs:\n  cluster: c\n  cpu: lots\n",
			want:    []string{"agent.yaml", "line 3", "lots"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := writeFile(t, t.TempDir(), "agent.yaml", tt.content)
			_, err := parseConfig([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
			if err == nil {
				t.Fatal("parseConfig succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestCheckECS runs `ferry-agent check` against the ECS fake. It sets the
// process's AWS variables, so it cannot run in parallel.
func TestCheckECS(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", awsfake.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsfake.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	tests := []struct {
		name   string
		fault  *awsfake.APIError
		region string
		code   int
		want   string
	}{
		{
			name:   "cluster answers",
			region: awsfake.Region,
			code:   0,
			want:   "OK    ecs: config valid; cluster ferry in us-east-1 answers",
		},
		{
			name:   "access denied",
			region: awsfake.Region,
			fault:  &awsfake.APIError{Type: "AccessDeniedException", Message: "not authorized to perform ecs:ListTasks"},
			code:   1,
			want:   "FAIL  ecs: cannot list the tasks of cluster ferry in us-east-1",
		},
		{
			name: "no region",
			code: 1,
			want: "FAIL  ecs: ecs.region: no AWS region",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := awsfake.Start(t)
			awsfake.NewECS(srv, nil)
			if tt.fault != nil {
				srv.Inject(awsfake.Fault{Target: awsfake.TargetListTasks, Err: tt.fault})
			}
			section := "ecs:\n  cluster: ferry\n  subnets: [subnet-a]\n  cpu: 256\n  memory: 512\n" +
				"  log_group: /ferry/runs\n  endpoint: " + srv.URL + "\n"
			if tt.region != "" {
				section += "  region: " + tt.region + "\n"
			}
			file := writeFile(t, t.TempDir(), "agent.yaml", section)
			cp := &fakeControlPlane{healthStatus: http.StatusOK}
			env := map[string]string{
				"FERRY_SERVER": startFakeControlPlane(t, cp), "FERRY_AGENT_TOKEN": fakeToken,
				"FERRY_AGENT_NAME": "edge-1", "FERRY_AGENT_ALLOW_UNSIGNED_ORDERS": "true",
			}
			var stdout, stderr syncBuffer
			code := run(context.Background(), []string{"check", "--config", file},
				func(k string) string { return env[k] }, &stdout, &stderr)
			out := stdout.String()
			if code != tt.code {
				t.Errorf("exit code %d, want %d; output:\n%s%s", code, tt.code, out, stderr.String())
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
			if tt.region == "" {
				return
			}
			calls := srv.Calls(awsfake.TargetListTasks)
			if len(calls) == 0 {
				t.Fatal("the check made no ListTasks call")
			}
			if body := string(calls[0].Body); !strings.Contains(body, `"cluster":"ferry"`) ||
				!strings.Contains(body, `"maxResults":1`) {
				t.Errorf("ListTasks request = %s, want cluster ferry and maxResults 1", body)
			}
		})
	}
}
