package jobtemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/ferryhq/ferry/controlplane/internal/params"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Error says why job variables or a template were rejected. Its text is
// safe to show to the client that sent them.
type Error struct {
	// Variable locates the offending value, such as "image" or "env.HOME";
	// empty means the variables or the template as a whole.
	Variable string
	// Reason says what is wrong, such as "must be string".
	Reason string
}

// Error returns `job variable "image": reason`, or only the reason when
// the error concerns no single variable.
func (e *Error) Error() string {
	if e.Variable == "" {
		return e.Reason
	}
	return fmt.Sprintf("job variable %q: %s", e.Variable, e.Reason)
}

// Template is a work pool's base job template.
type Template struct {
	// Variables is the JSON Schema the merged variables must satisfy; ""
	// accepts any.
	Variables string
	// Defaults is a JSON object of default variable values; "" means none.
	Defaults string
}

// Parse reads a base job template: "" is the empty template; otherwise a
// JSON object with at most the members "variables" (a JSON Schema that
// compiles) and "defaults" (an object whose known variables have their
// types). The defaults are checked against the schema only once merged
// with a deployment's values, since the schema may require variables that
// only deployments give.
func Parse(text string) (Template, error) {
	if text == "" {
		return Template{}, nil
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Template{}, &Error{Reason: fmt.Sprintf("template is not a JSON object: %v", err)}
	}
	var t Template
	for k, v := range raw {
		switch k {
		case "variables":
			t.Variables = string(v)
			if err := params.CheckSchema(t.Variables); err != nil {
				return Template{}, &Error{Reason: fmt.Sprintf("template variables: %v", err)}
			}
		case "defaults":
			t.Defaults = string(v)
			if err := params.Check(t.Defaults); err != nil {
				return Template{}, &Error{Reason: fmt.Sprintf("template defaults: %v", err)}
			}
		default:
			return Template{}, &Error{Reason: fmt.Sprintf("template has unknown member %q; want variables and defaults", k)}
		}
	}
	// The defaults alone need not satisfy the schema, which may require
	// variables only deployments give; the known ones must have their types.
	if t.Defaults != "" {
		if _, err := decode(t.Defaults); err != nil {
			return Template{}, fmt.Errorf("template defaults: %w", err)
		}
	}
	return t, nil
}

// Resolve merges the template's defaults, then deployment, then run (each
// a JSON object or ""), and checks the result against the template's schema
// and the types of the known variables. It returns the merged variables as
// compact JSON with sorted keys, or an [*Error] naming the first offending
// variable.
func (t Template) Resolve(deployment, run string) (string, error) {
	merged, err := Merge(t.Defaults, deployment, run)
	if err != nil {
		return "", err
	}
	if err := params.Validate(t.Variables, merged); err != nil {
		return "", asError(err)
	}
	if _, err := decode(merged); err != nil {
		return "", err
	}
	return merged, nil
}

// Merge lays each layer (a JSON object, "" for none) over the ones before
// it: a top-level key replaces the same key of earlier layers, except that
// two objects under "env" or "labels" are merged key by key. Values keep
// their exact text. The result is compact JSON with sorted keys.
func Merge(layers ...string) (string, error) {
	out := map[string]json.RawMessage{}
	for _, layer := range layers {
		if layer == "" {
			continue
		}
		if err := params.Check(layer); err != nil {
			return "", asError(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(layer), &m); err != nil {
			return "", fmt.Errorf("decode job variables: %w", err)
		}
		for k, v := range m {
			if prev, ok := out[k]; ok && (k == "env" || k == "labels") {
				if merged, ok := mergeObjects(prev, v); ok {
					out[k] = merged
					continue
				}
			}
			out[k] = v
		}
	}
	text, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode job variables: %w", err)
	}
	// params.Merge sorts, compacts and bounds the size of the result.
	merged, err := params.Merge(string(text), "")
	if err != nil {
		return "", asError(err)
	}
	return merged, nil
}

// mergeObjects lays the object over on the object base; ok is false when
// either is not an object.
func mergeObjects(base, over json.RawMessage) (json.RawMessage, bool) {
	var b, o map[string]json.RawMessage
	if json.Unmarshal(base, &b) != nil || json.Unmarshal(over, &o) != nil || b == nil || o == nil {
		return nil, false
	}
	maps.Copy(b, o)
	text, err := json.Marshal(b)
	if err != nil {
		return nil, false
	}
	return text, true
}

// asError turns a rejection of package params into an [*Error].
func asError(err error) error {
	var pe *params.Error
	if errors.As(err, &pe) {
		return &Error{Variable: pe.Path, Reason: pe.Reason}
	}
	return err
}

// known holds the known variables of a merged set; nil fields are unset.
type known struct {
	Image   *string           `json:"image"`
	Command []string          `json:"command"`
	Env     map[string]string `json:"env"`
	CPU     *json.Number      `json:"cpu"`
	Memory  *json.Number      `json:"memory"`
	Network *string           `json:"network"`
	Labels  map[string]string `json:"labels"`
}

// kinds names the JSON type each known variable must have.
var kinds = map[string]string{
	"image": "string", "command": "array of strings", "env": "object of strings",
	"cpu": "number of cores", "memory": "integer number of MiB", "network": "string",
	"labels": "object of strings",
}

// decode reads the known variables of merged, checking their types.
func decode(merged string) (known, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(merged), &raw); err != nil {
		return known{}, fmt.Errorf("decode job variables: %w", err)
	}
	var k known
	for _, name := range slices.Sorted(maps.Keys(kinds)) {
		kind := kinds[name]
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		one, err := json.Marshal(map[string]json.RawMessage{name: v})
		if err != nil {
			return known{}, fmt.Errorf("encode job variable %q: %w", name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.UseNumber()
		if err := dec.Decode(&k); err != nil {
			return known{}, &Error{Variable: name, Reason: "must be " + kind}
		}
	}
	if k.CPU != nil {
		if f, err := k.CPU.Float64(); err != nil || f <= 0 || f > 256 {
			return known{}, &Error{Variable: "cpu", Reason: "must be a number of cores above 0 and at most 256"}
		}
	}
	if k.Memory != nil {
		if n, err := k.Memory.Int64(); err != nil || n < 0 || n > 1<<20 {
			return known{}, &Error{Variable: "memory", Reason: "must be an integer number of MiB from 0 to 1048576"}
		}
	}
	return k, nil
}

// Apply sets job.job_variables to merged (as returned by
// [Template.Resolve]) and maps the known variables onto job's fields. It
// copies job's environment and container before changing them, so maps
// shared with a cached deployment spec are never written.
func Apply(job *ferryv1.JobSpec, merged string) error {
	if merged == "" || merged == "{}" {
		return nil
	}
	k, err := decode(merged)
	if err != nil {
		return err
	}
	job.JobVariables = merged
	if k.Image != nil {
		job.Image = *k.Image
	}
	if k.Command != nil {
		job.Command = k.Command
	}
	if len(k.Env) > 0 {
		env := maps.Clone(job.GetEnv())
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, k.Env)
		job.Env = env
	}
	if k.CPU == nil && k.Memory == nil && k.Network == nil && len(k.Labels) == 0 {
		return nil
	}
	c := &ferryv1.ContainerSpec{}
	if job.GetContainer() != nil {
		c = proto.CloneOf(job.GetContainer())
	}
	if k.CPU != nil {
		f, _ := k.CPU.Float64()
		c.MilliCpus = int32(math.Round(f * 1000))
	}
	if k.Memory != nil {
		n, _ := k.Memory.Int64()
		c.MemoryBytes = n << 20
	}
	if k.Network != nil {
		c.Network = *k.Network
	}
	if len(k.Labels) > 0 {
		labels := maps.Clone(c.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, k.Labels)
		c.Labels = labels
	}
	job.Container = c
	return nil
}

// Effective returns spec as the job variables merged would launch it: a
// copy of spec whose image, command, env and container carry the known
// variables, so an admission policy judges what will really run. spec is
// not changed; with no variables it is returned as is.
func Effective(spec *ferryv1.DeploymentSpec, merged string) (*ferryv1.DeploymentSpec, error) {
	if merged == "" || merged == "{}" {
		return spec, nil
	}
	job := &ferryv1.JobSpec{
		Image: spec.GetImage(), Command: spec.GetCommand(), Env: spec.GetEnv(), Container: spec.GetContainer(),
	}
	if err := Apply(job, merged); err != nil {
		return nil, err
	}
	out := proto.CloneOf(spec)
	out.Image, out.Command, out.Env, out.Container = job.GetImage(), job.GetCommand(), job.GetEnv(), job.GetContainer()
	return out, nil
}
