package jobtemplate

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		layers []string
		want   string
	}{
		{"nothing", nil, `{}`},
		{"empty layers", []string{"", "", ""}, `{}`},
		{"defaults only", []string{`{"image":"base:1","cpu":1}`, "", ""}, `{"cpu":1,"image":"base:1"}`},
		{"deployment over defaults", []string{`{"image":"base:1","cpu":1}`, `{"image":"app:2"}`, ""}, `{"cpu":1,"image":"app:2"}`},
		{"run over deployment", []string{`{"image":"base:1"}`, `{"image":"app:2"}`, `{"image":"app:3"}`}, `{"image":"app:3"}`},
		{"env merged by key", []string{`{"env":{"A":"1","B":"1"}}`, `{"env":{"B":"2"}}`, `{"env":{"C":"3"}}`}, `{"env":{"A":"1","B":"2","C":"3"}}`},
		{"labels merged by key", []string{`{"labels":{"team":"a"}}`, `{"labels":{"app":"x"}}`, ""}, `{"labels":{"app":"x","team":"a"}}`},
		{"other objects replaced whole", []string{`{"extra":{"a":1}}`, `{"extra":{"b":2}}`, ""}, `{"extra":{"b":2}}`},
		{"env replaced by a non-object", []string{`{"env":{"A":"1"}}`, `{"env":null}`, ""}, `{"env":null}`},
		{"exact numbers kept", []string{`{"memory":9007199254740993}`, `{"cpu":1.50}`, ""}, `{"cpu":1.50,"memory":9007199254740993}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge(tt.layers...)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if got != tt.want {
				t.Errorf("Merge = %s, want %s", got, tt.want)
			}
		})
	}
}

const schema = `{
	"type": "object",
	"properties": {
		"image": {"type": "string", "minLength": 1},
		"cpu": {"type": "number", "maximum": 4},
		"memory": {"type": "integer"},
		"env": {"type": "object", "additionalProperties": {"type": "string"}}
	},
	"required": ["image"],
	"additionalProperties": false
}`

func TestResolve(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse(`{"variables":` + schema + `,"defaults":{"cpu":1,"env":{"A":"1"}}}`)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name            string
		deployment, run string
		want            string
		// variable is the variable the error names; "" with wantErr means
		// the error concerns the variables as a whole.
		variable string
		wantErr  bool
	}{
		{name: "valid", deployment: `{"image":"app:1"}`, want: `{"cpu":1,"env":{"A":"1"},"image":"app:1"}`},
		{name: "run overrides", deployment: `{"image":"app:1"}`, run: `{"cpu":2,"env":{"B":"2"}}`, want: `{"cpu":2,"env":{"A":"1","B":"2"},"image":"app:1"}`},
		{name: "required missing", run: `{"cpu":2}`, variable: "image", wantErr: true},
		{name: "wrong type from deployment", deployment: `{"image":7}`, variable: "image", wantErr: true},
		{name: "above maximum from run", deployment: `{"image":"app:1"}`, run: `{"cpu":8}`, variable: "cpu", wantErr: true},
		{name: "unknown variable", deployment: `{"image":"app:1","gpu":1}`, variable: "gpu", wantErr: true},
		{name: "env value not a string", deployment: `{"image":"app:1"}`, run: `{"env":{"N":1}}`, variable: "env.N", wantErr: true},
		{name: "not an object", deployment: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tmpl.Resolve(tt.deployment, tt.run)
			if tt.wantErr {
				var je *Error
				if !errors.As(err, &je) {
					t.Fatalf("Resolve = %q, %v; want an *Error", got, err)
				}
				if je.Variable != tt.variable {
					t.Errorf("error %q names variable %q, want %q", err, je.Variable, tt.variable)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("Resolve = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestResolveKnownTypesWithoutSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vars     string
		variable string
	}{
		{`{"image":["a"]}`, "image"},
		{`{"command":"echo hi"}`, "command"},
		{`{"command":[1,2]}`, "command"},
		{`{"env":{"A":true}}`, "env"},
		{`{"cpu":0}`, "cpu"},
		{`{"cpu":"lots"}`, "cpu"},
		{`{"memory":1.5}`, "memory"},
		{`{"memory":-1}`, "memory"},
		{`{"network":1}`, "network"},
		{`{"labels":["a"]}`, "labels"},
	}
	for _, tt := range tests {
		t.Run(tt.vars, func(t *testing.T) {
			_, err := Template{}.Resolve(tt.vars, "")
			var je *Error
			if !errors.As(err, &je) || je.Variable != tt.variable {
				t.Errorf("Resolve(%s) = %v, want an error naming %q", tt.vars, err, tt.variable)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		want    Template
		wantErr bool
	}{
		{name: "empty", text: ""},
		{name: "schema and defaults", text: `{"variables":{"type":"object"},"defaults":{"image":"a"}}`,
			want: Template{Variables: `{"type":"object"}`, Defaults: `{"image":"a"}`}},
		{name: "defaults need not meet required", text: `{"variables":{"required":["image"]},"defaults":{}}`,
			want: Template{Variables: `{"required":["image"]}`, Defaults: `{}`}},
		{name: "not JSON", text: `{"variables":`, wantErr: true},
		{name: "unknown member", text: `{"vars":{}}`, wantErr: true},
		{name: "schema does not compile", text: `{"variables":{"type":"nothing"}}`, wantErr: true},
		{name: "defaults not an object", text: `{"defaults":[1]}`, wantErr: true},
		{name: "default of a known variable with a bad type", text: `{"defaults":{"cpu":"x"}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	sharedEnv := map[string]string{"A": "deployment", "KEEP": "1"}
	sharedContainer := &ferryv1.ContainerSpec{User: "app", Labels: map[string]string{"team": "a"}}
	job := &ferryv1.JobSpec{
		Image: "base:1", Command: []string{"run"}, Env: sharedEnv, Container: sharedContainer,
	}
	merged := `{"command":["run","--fast"],"cpu":0.5,"env":{"A":"run"},"extra":1,"image":"app:2",` +
		`"labels":{"app":"x"},"memory":256,"network":"jobs"}`
	if err := (Template{}).Apply(job, merged); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := &ferryv1.JobSpec{
		Image: "app:2", Command: []string{"run", "--fast"},
		Env: map[string]string{"A": "run", "KEEP": "1"},
		Container: &ferryv1.ContainerSpec{
			User: "app", MilliCpus: 500, MemoryBytes: 256 << 20, Network: "jobs",
			Labels: map[string]string{"team": "a", "app": "x"},
		},
		JobVariables: merged,
	}
	if diff := cmp.Diff(want, job, protocmp.Transform()); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"A": "deployment", "KEEP": "1"}, sharedEnv); diff != "" {
		t.Errorf("Apply wrote the shared env (-want +got):\n%s", diff)
	}
	if sharedContainer.GetMilliCpus() != 0 || len(sharedContainer.GetLabels()) != 1 {
		t.Errorf("Apply wrote the shared container: %v", sharedContainer)
	}

	untouched := &ferryv1.JobSpec{Image: "base:1"}
	if err := (Template{}).Apply(untouched, "{}"); err != nil {
		t.Fatalf("Apply({}): %v", err)
	}
	if diff := cmp.Diff(&ferryv1.JobSpec{Image: "base:1"}, untouched, protocmp.Transform()); diff != "" {
		t.Errorf("Apply({}) changed the job (-want +got):\n%s", diff)
	}
}
