package jobtemplate

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestECSPoolTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		poolType   string
		template   string
		deployment string
		run        string
		variable   string // empty means valid
	}{
		{"ecs cpu in units", PoolTypeECS, `{"defaults":{"cpu":1024,"memory":2048}}`, "", "", ""},
		{"docker cpu in cores", "docker", `{"defaults":{"cpu":1024}}`, "", "", "cpu"},
		{"docker ignores ecs variables", "docker", `{"defaults":{"launch_type":"LAMBDA"}}`, "", "", ""},
		{"ecs defaults", PoolTypeECS, `{"defaults":{"launch_type":"LAMBDA"}}`, "", "", "launch_type"},
		{"ecs deployment", PoolTypeECS, `{"defaults":{"launch_type":"FARGATE","cpu":256}}`, `{"memory":4096}`, "", "memory"},
		{"ecs run", PoolTypeECS, `{"defaults":{"launch_type":"FARGATE"}}`, `{"subnets":["subnet-1"]}`,
			`{"network_mode":"host"}`, "network_mode"},
		{"ecs run clears a variable", PoolTypeECS, `{"defaults":{"launch_type":"FARGATE","cpu":256}}`, `{"memory":4096}`,
			`{"cpu":null}`, ""},
		{"ecs schema still applies", PoolTypeECS,
			`{"variables":{"type":"object","properties":{"cluster":{"enum":["prod"]}}}}`, `{"cluster":"dev"}`, "", "cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := ParsePool(tt.poolType, tt.template)
			if err == nil {
				_, err = tmpl.Resolve(tt.deployment, tt.run)
			}
			if tt.variable == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Variable != tt.variable {
				t.Fatalf("got %v, want an error naming %s", err, tt.variable)
			}
		})
	}
}

func TestECSApplyTaskSize(t *testing.T) {
	t.Parallel()
	tmpl, err := ParsePool(PoolTypeECS, "")
	if err != nil {
		t.Fatal(err)
	}
	merged := `{"cluster":"prod","cpu":1024,"image":"app:2","memory":2048}`
	job := &ferryv1.JobSpec{Image: "base:1"}
	if err := tmpl.Apply(job, merged); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// cpu in ECS units becomes the container's millicpus, which the agent
	// turns back into the same units.
	want := &ferryv1.JobSpec{
		Image: "app:2", JobVariables: merged,
		Container: &ferryv1.ContainerSpec{MilliCpus: 1000, MemoryBytes: 2048 << 20},
	}
	if diff := cmp.Diff(want, job, protocmp.Transform()); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}

	// The agent turns millicpus into units as int(milli*1024/1000); every
	// Fargate size comes back exactly.
	for _, units := range []int32{256, 512, 1024, 2048, 4096, 8192, 16384} {
		job := &ferryv1.JobSpec{}
		if err := tmpl.Apply(job, fmt.Sprintf(`{"cpu":%d}`, units)); err != nil {
			t.Fatalf("Apply cpu %d: %v", units, err)
		}
		if back := int32(int64(job.GetContainer().GetMilliCpus()) * 1024 / 1000); back != units {
			t.Errorf("cpu %d units became %d millicpus, which the agent reads as %d units",
				units, job.GetContainer().GetMilliCpus(), back)
		}
	}
}
