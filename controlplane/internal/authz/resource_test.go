package authz

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestResourceOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		procedure string
		msg       any
		want      map[string]string
		label     string
	}{
		{
			name:      "top-level id",
			procedure: "/ferry.v1.RunService/GetRun",
			msg:       &ferryv1.GetRunRequest{Id: "r1"},
			want:      map[string]string{"type": "run", "id": "r1"},
			label:     "run/r1",
		},
		{
			name:      "field of a nested message",
			procedure: "/ferry.v1.RunService/CreateRun",
			msg:       &ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "etl"}},
			want:      map[string]string{"type": "run", "deployment": "etl"},
			label:     "run/etl",
		},
		{
			name:      "top level wins over nested",
			procedure: "/ferry.v1.DeploymentService/ApplyDeployment",
			msg:       &ferryv1.ApplyDeploymentRequest{Name: "etl", Spec: &ferryv1.DeploymentSpec{Pool: "docker", Queue: "fast"}},
			want:      map[string]string{"type": "deployment", "name": "etl", "pool": "docker", "queue": "fast"},
			label:     "deployment/etl",
		},
		{
			name:      "two identifying fields",
			procedure: "/ferry.v1.WorkPoolService/ApplyWorkQueue",
			msg:       &ferryv1.ApplyWorkQueueRequest{Pool: "docker", Name: "fast"},
			want:      map[string]string{"type": "work_queue", "name": "fast", "pool": "docker"},
			label:     "work_queue/fast",
		},
		{
			name:      "plural method",
			procedure: "/ferry.v1.WorkPoolService/ListWorkPools",
			msg:       &ferryv1.ListWorkPoolsRequest{},
			want:      map[string]string{"type": "work_pool"},
		},
		{
			name:      "acronym",
			procedure: "/ferry.v1.APIKeyService/RevokeAPIKey",
			msg:       &ferryv1.RevokeAPIKeyRequest{Id: "k1"},
			want:      map[string]string{"type": "api_key", "id": "k1"},
			label:     "api_key/k1",
		},
		{
			name:      "user by email",
			procedure: "/ferry.v1.UserService/CreateUser",
			msg:       &ferryv1.CreateUserRequest{Email: "ada@example.com", DisplayName: "Ada"},
			want:      map[string]string{"type": "user", "email": "ada@example.com"},
			label:     "user/ada@example.com",
		},
		{
			name:      "pause a deployment",
			procedure: "/ferry.v1.PauseService/Pause",
			msg:       &ferryv1.PauseRequest{Target: &ferryv1.PauseTarget{Deployment: "etl"}},
			want:      map[string]string{"type": "deployment", "name": "etl", "deployment": "etl"},
			label:     "deployment/etl",
		},
		{
			name:      "resume a pool",
			procedure: "/ferry.v1.PauseService/Resume",
			msg:       &ferryv1.ResumeRequest{Target: &ferryv1.PauseTarget{Pool: "docker"}},
			want:      map[string]string{"type": "work_pool", "name": "docker", "pool": "docker"},
			label:     "work_pool/docker",
		},
		{
			name:      "pause a queue",
			procedure: "/ferry.v1.PauseService/Pause",
			msg:       &ferryv1.PauseRequest{Target: &ferryv1.PauseTarget{Pool: "docker", Queue: "fast"}},
			want:      map[string]string{"type": "work_queue", "name": "fast", "pool": "docker", "queue": "fast"},
			label:     "work_queue/fast",
		},
		{
			name:      "one-word method",
			procedure: "/ferry.v1.AgentService/Heartbeat",
			msg:       nil,
			want:      map[string]string{"type": "heartbeat"},
		},
		{
			name:      "not a message",
			procedure: "/ferry.v1.RunService/GetRun",
			msg:       "r1",
			want:      map[string]string{"type": "run"},
		},
		{
			name:      "nil message pointer",
			procedure: "/ferry.v1.RunService/GetRun",
			msg:       (*ferryv1.GetRunRequest)(nil),
			want:      map[string]string{"type": "run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ResourceOf(tt.procedure, tt.msg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResourceOf (-want +got):\n%s", diff)
			}
			if label := resourceLabel(got); label != tt.label {
				t.Errorf("resourceLabel = %q, want %q", label, tt.label)
			}
		})
	}
}

func TestResourceType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		procedure string
		want      string
	}{
		{"/ferry.v1.APIKeyService/CreateAPIKey", "api_key"},
		{"/ferry.v1.APIKeyService/ListAPIKeys", "api_key"},
		{"/ferry.v1.APIKeyService/RevokeAPIKey", "api_key"},
		{"/ferry.v1.WorkPoolService/ApplyWorkPool", "work_pool"},
		{"/ferry.v1.WorkPoolService/ListWorkPools", "work_pool"},
		{"/ferry.v1.AgentTokenService/CreateAgentToken", "agent_token"},
		{"/ferry.v1.RunService/ListRuns", "run"},
		{"/ferry.v1.UserService/CreateUser", "user"},
		{"/ferry.v1.AgentService/Heartbeat", "heartbeat"},
		{"/x.v1.S/GetAPI", "api"},
		{"/x.v1.S/ListIDs", "id"},
		{"/x.v1.S/GetHTTPServerURL", "http_server_url"},
	}
	for _, tt := range tests {
		if got := resourceType(tt.procedure); got != tt.want {
			t.Errorf("resourceType(%q) = %q, want %q", tt.procedure, got, tt.want)
		}
	}
}
