package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// applyFile is the part of ferry.yaml this test reads.
type applyFile struct {
	Pools []struct {
		Name string `yaml:"name"`
		Type string `yaml:"type"`
	} `yaml:"pools"`
	Deployments []struct {
		Name              string         `yaml:"name"`
		Pool              string         `yaml:"pool"`
		Command           []string       `yaml:"command"`
		ParametersSchema  map[string]any `yaml:"parameters_schema"`
		DefaultParameters map[string]any `yaml:"default_parameters"`
	} `yaml:"deployments"`
}

// compileSchema compiles a schema given as YAML-decoded values by way of JSON,
// the form Ferry stores it in.
func compileSchema(t *testing.T, doc map[string]any) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("encode schema: %v", err)
	}
	parsed, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decode schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("ferry.yaml", parsed); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile("ferry.yaml")
	if err != nil {
		t.Fatalf("compile parameters_schema: %v", err)
	}
	return sch
}

// TestFerryYAMLAgreesWithDecoder checks the apply file the demo uses: that it
// runs this program's binary on the process pool, and that its parameter
// schema accepts exactly the parameters the program accepts, so Ferry rejects
// a bad run before launching it.
func TestFerryYAMLAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("ferry.yaml")
	if err != nil {
		t.Fatalf("read ferry.yaml: %v", err)
	}
	var af applyFile
	if err := yaml.Unmarshal(b, &af); err != nil {
		t.Fatalf("parse ferry.yaml: %v", err)
	}
	if len(af.Pools) != 1 || af.Pools[0].Type != "process" || len(af.Deployments) != 1 {
		t.Fatalf("ferry.yaml should hold one process pool and one deployment, got %+v", af)
	}
	d := af.Deployments[0]
	if d.Pool != af.Pools[0].Name || len(d.Command) == 0 || d.Command[0] != "./bin/tzreport" {
		t.Errorf("deployment %q runs %v on pool %q, want ./bin/tzreport on %q",
			d.Name, d.Command, d.Pool, af.Pools[0].Name)
	}
	sch := compileSchema(t, d.ParametersSchema)

	validate := func(text string) error {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatalf("decode instance %s: %v", text, err)
		}
		return sch.Validate(inst)
	}
	defaults, err := json.Marshal(d.DefaultParameters)
	if err != nil {
		t.Fatalf("encode default_parameters: %v", err)
	}
	if err := validate(string(defaults)); err != nil {
		t.Errorf("default_parameters do not satisfy the schema: %v", err)
	}
	if _, err := decodeParameters(string(defaults), fixedNow); err != nil {
		t.Errorf("default_parameters rejected by the program: %v", err)
	}

	for _, pc := range parameterCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			schemaErr := validate(pc.json)
			if (schemaErr == nil) != (pc.wantErr == "") {
				t.Errorf("schema says valid=%v (%v), program says valid=%v", schemaErr == nil, schemaErr, pc.wantErr == "")
			}
		})
	}
}
