package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestApplyFileContainerAndSecrets(t *testing.T) {
	good := `
deployments:
  - name: nightly
    pool: edge
    image: registry.local:5000/etl@sha256:abc
    command: ["/load"]
    secrets:
      DB_PASSWORD: aws-sm://prod/db#password
      TOKEN: env://LOADER_TOKEN
    container:
      pull_policy: never
      user: "1000:1000"
      milli_cpus: 500
      memory_bytes: 536870912
      network: runs
      privileged: false
      stop_grace: 5s
      keep_container: true
      labels: {team: data}
      mounts: [{source: /data, target: /in, read_only: true}]
`
	f, err := parseApplyFile("good.yaml", []byte(good))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	spec := f.Deployments[0].GetSpec()
	wantSecrets := map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password", "TOKEN": "env://LOADER_TOKEN"}
	if diff := cmp.Diff(wantSecrets, spec.GetSecrets()); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	want := &ferryv1.ContainerSpec{
		PullPolicy: ferryv1.PullPolicy_PULL_POLICY_NEVER, User: "1000:1000", MilliCpus: 500,
		MemoryBytes: 536870912, Network: "runs", KeepContainer: true,
		Labels: map[string]string{"team": "data"},
		Mounts: []*ferryv1.Mount{{Source: "/data", Target: "/in", ReadOnly: true}},
	}
	got := spec.GetContainer()
	if got.GetStopGrace().AsDuration().String() != "5s" {
		t.Errorf("stop_grace = %v, want 5s", got.GetStopGrace().AsDuration())
	}
	got.StopGrace = nil
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("container (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, body, want string
	}{
		{"bad reference", "secrets: {X: 'vault://x'}", "secrets X"},
		{"bad variable name", "secrets: {'1X': 'env://X'}", "not a variable name"},
		{"unknown container field", "container: {gpus: 1}", `unknown field "gpus"`},
		{"bad pull policy", "container: {pull_policy: sometimes}", "pull_policy"},
		{"memory out of range", "container: {memory_bytes: -1}", "memory_bytes"},
		{"mount without target", "container: {mounts: [{source: /a}]}", "source and target are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "deployments:\n  - name: d\n    pool: p\n    command: [x]\n    " + tt.body + "\n"
			_, err := parseApplyFile("bad.yaml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestApplyFileConcurrency(t *testing.T) {
	doc := `
deployments:
  - name: d
    pool: p
    command: [x]
    concurrency_limit: 2
    collision_strategy: cancel_oldest
    limits: [warehouse, api-quota]
`
	f, err := parseApplyFile("limits.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	spec := f.Deployments[0].GetSpec()
	if spec.GetConcurrencyLimit() != 2 ||
		spec.GetCollisionStrategy() != ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_OLDEST ||
		!cmp.Equal(spec.GetLimits(), []string{"warehouse", "api-quota"}) {
		t.Errorf("got limit %d, strategy %v, limits %q", spec.GetConcurrencyLimit(), spec.GetCollisionStrategy(), spec.GetLimits())
	}
	for _, tt := range []struct{ body, want string }{
		{"collision_strategy: sometimes", "collision_strategy must be"},
		{"concurrency_limit: -1", "concurrency_limit must be between"},
		{"limits: [Bad_Name]", "not a limit name"},
	} {
		doc := "deployments:\n  - name: d\n    pool: p\n    command: [x]\n    " + tt.body + "\n"
		if _, err := parseApplyFile("bad.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.body, err, tt.want)
		}
	}
}
