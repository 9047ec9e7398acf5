package e2e

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// templatePool is a base job template whose schema requires a team label
// and caps cpu, with defaults for env and memory.
const templatePool = `{
	"variables": {
		"type": "object",
		"properties": {
			"cpu": {"type": "number", "maximum": 2},
			"memory": {"type": "integer"},
			"env": {"type": "object", "additionalProperties": {"type": "string"}},
			"labels": {"type": "object", "required": ["team"]}
		},
		"required": ["labels"],
		"additionalProperties": false
	},
	"defaults": {"memory": 128, "env": {"LEVEL": "pool", "POOL_ONLY": "1"}}
}`

// TestJobTemplates checks that job variables are validated against the
// pool's template when a deployment is applied and when a run is created,
// writing nothing on a rejection, and that a work order carries the merged
// values: pool defaults < deployment < run.
func TestJobTemplates(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	ctx := callCtx(t)
	tok := p.setupDeployment(t, "plain")

	if _, err := p.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS, BaseJobTemplate: `{"variables":{"type":"nope"}}`,
	})); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "base_job_template") {
		t.Fatalf("apply pool with a bad template: %v, want InvalidArgument naming base_job_template", err)
	}
	applied, err := p.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS, BaseJobTemplate: templatePool,
	}))
	if err != nil {
		t.Fatalf("apply pool with a template: %v", err)
	}
	if applied.Msg.GetWorkPool().GetBaseJobTemplate() != templatePool {
		t.Errorf("pool template = %q, want it as applied", applied.Msg.GetWorkPool().GetBaseJobTemplate())
	}

	apply := func(name, vars string) error {
		_, err := p.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: name, Spec: &ferryv1.DeploymentSpec{
			Pool: "local", Command: []string{"echo"}, Env: map[string]string{"SPEC": "1", "LEVEL": "spec"}, JobVariables: vars,
		}}))
		return err
	}
	badDeployments := []struct {
		name, vars, variable string
	}{
		{"missing-required", `{"cpu":1}`, "labels"},
		{"over-maximum", `{"labels":{"team":"a"},"cpu":4}`, "cpu"},
		{"unknown-variable", `{"labels":{"team":"a"},"gpu":1}`, "gpu"},
		{"nested-required", `{"labels":{"app":"x"}}`, "labels.team"},
	}
	for _, b := range badDeployments {
		err := apply(b.name, b.vars)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "spec.job_variables") ||
			!strings.Contains(err.Error(), `"`+b.variable+`"`) {
			t.Errorf("apply deployment %s: %v, want InvalidArgument naming spec.job_variables and %q", b.name, err, b.variable)
		}
		if _, err := p.deployments.GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{Name: b.name})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("rejected deployment %s: get = %v, want NotFound", b.name, err)
		}
	}

	if err := apply("templated", `{"labels":{"team":"data"},"cpu":1,"env":{"LEVEL":"deployment"}}`); err != nil {
		t.Fatalf("apply deployment with job variables: %v", err)
	}
	before := p.runCount(t)
	_, err = p.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
		Deployment: "templated", JobVariables: `{"cpu":3}`,
	}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "run.job_variables") ||
		!strings.Contains(err.Error(), `"cpu"`) {
		t.Errorf("create run over the cpu maximum: %v, want InvalidArgument naming run.job_variables and cpu", err)
	}
	if got := p.runCount(t); got != before {
		t.Errorf("a rejected run was written: %d runs, want %d", got, before)
	}

	created, err := p.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
		Deployment: "templated", JobVariables: `{"cpu":0.5,"env":{"LEVEL":"run"}}`,
	}}))
	if err != nil {
		t.Fatalf("create run with job variables: %v", err)
	}
	a := p.connectAgent(t, tok, "agent-1", 4)
	job := a.orderFor(t, created.Msg.GetRun().GetId()).GetJob()
	if want := `{"cpu":0.5,"env":{"LEVEL":"run","POOL_ONLY":"1"},"labels":{"team":"data"},"memory":128}`; job.GetJobVariables() != want {
		t.Errorf("job_variables = %s, want %s", job.GetJobVariables(), want)
	}
	if diff := cmp.Diff(map[string]string{"SPEC": "1", "LEVEL": "run", "POOL_ONLY": "1"}, job.GetEnv()); diff != "" {
		t.Errorf("job env (-want +got):\n%s", diff)
	}
	c := job.GetContainer()
	if c.GetMilliCpus() != 500 || c.GetMemoryBytes() != 128<<20 || c.GetLabels()["team"] != "data" {
		t.Errorf("job container = %v, want 500 milli-CPUs, 128 MiB and label team=data", c)
	}
}
