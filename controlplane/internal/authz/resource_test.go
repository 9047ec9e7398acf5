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
