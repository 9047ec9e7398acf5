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
	"github.com/ferryhq/ferry/internal/ecstask"
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

// PoolTypeECS is the type of ecs work pools. Their templates also know the
// ecs variables of package [ecstask], and their cpu and memory size the ECS
// task (CPU units and MiB) rather than a container.
const PoolTypeECS = "ecs"

// Template is a work pool's base job template.
type Template struct {
	// Variables is the JSON Schema the merged variables must satisfy; ""
	// accepts any.
	Variables string
	// Defaults is a JSON object of default variable values; "" means none.
	Defaults string
	// PoolType is the type of the pool ("docker", "ecs" or "process"),
	// which decides the known variables; "" knows only the common ones.
	PoolType string
}

// Parse reads a base job template of a pool of any type; see [ParsePool].
func Parse(text string) (Template, error) {
	return ParsePool("", text)
}

// ParsePool reads the base job template of a pool of type poolType: "" is
// the empty template; otherwise a JSON object with at most the members
// "variables" (a JSON Schema that compiles) and "defaults" (an object whose
// known variables have their types and, on ecs pools, pass
// [ecstask.Vars.Check]). The defaults are checked against the schema only
// once merged with a deployment's values, since the schema may require
// variables that only deployments give.
func ParsePool(poolType, text string) (Template, error) {
	if text == "" {
		return Template{PoolType: poolType}, nil
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Template{}, &Error{Reason: fmt.Sprintf("template is not a JSON object: %v", err)}
	}
	t := Template{PoolType: poolType}
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
		if _, err := decode(t.Defaults, poolType); err != nil {
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
	if _, err := decode(merged, t.PoolType); err != nil {
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
	// taskCPU (ECS units) and taskMemory (MiB) are cpu and memory on ecs
	// pools, where they size the task.
	taskCPU, taskMemory *int32
}

// kinds names the JSON type each known variable must have.
var kinds = map[string]string{
	"image": "string", "command": "array of strings", "env": "object of strings",
	"cpu": "number of cores", "memory": "integer number of MiB", "network": "string",
	"labels": "object of strings",
}

// decode reads the known variables of merged for a pool of type poolType,
// checking their types; on ecs pools it also checks the ecs variables with
// [ecstask.Vars.Check] and leaves cpu and memory, which size the task, out
// of the result.
func decode(merged, poolType string) (known, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(merged), &raw); err != nil {
		return known{}, fmt.Errorf("decode job variables: %w", err)
	}
	var k known
	if poolType == PoolTypeECS {
		vars, err := checkECS(merged)
		if err != nil {
			return known{}, err
		}
		k.taskCPU, k.taskMemory = vars.CPU, vars.Memory
	}
	for _, name := range slices.Sorted(maps.Keys(kinds)) {
		if poolType == PoolTypeECS && (name == "cpu" || name == "memory") {
			continue
		}
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

// checkECS reads and checks the ecs variables of merged; see
// [ecstask.Vars.Check].
func checkECS(merged string) (ecstask.Vars, error) {
	vars, err := ecstask.ParseVars(merged)
	if err == nil {
		err = vars.Check()
	}
	var fe *ecstask.FieldError
	if errors.As(err, &fe) {
		return ecstask.Vars{}, &Error{Variable: fe.Field, Reason: fe.Reason}
	}
	return vars, err
}

// Apply sets job.job_variables to merged (as returned by
// [Template.Resolve]) and maps the known variables of t's pool type onto
// job's fields. It copies job's environment and container before changing
// them, so maps shared with a cached deployment spec are never written.
// The ecs variables travel in job_variables alone; the agent reads them.
func (t Template) Apply(job *ferryv1.JobSpec, merged string) error {
	if merged == "" || merged == "{}" {
		return nil
	}
	k, err := decode(merged, t.PoolType)
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
	if k.CPU == nil && k.Memory == nil && k.taskCPU == nil && k.taskMemory == nil && k.Network == nil &&
		len(k.Labels) == 0 {
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
	// On ecs pools the task's size is also the container's, in the units
	// of the other pools, so admission caps judge it and the agent's RunTask
	// overrides carry it (1024 units make 1000 millicpus; rounding up
	// brings Fargate's sizes back exactly).
	if k.taskCPU != nil {
		c.MilliCpus = int32((int64(*k.taskCPU)*1000 + 1023) / 1024)
	}
	if k.taskMemory != nil {
		c.MemoryBytes = int64(*k.taskMemory) << 20
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

// Effective returns spec as the job variables merged would launch it on a
// pool of t's type: a copy of spec whose image, command, env and container
// carry the known variables, so an admission policy judges what will
// really run. spec is not changed; with no variables it is returned as is.
func (t Template) Effective(spec *ferryv1.DeploymentSpec, merged string) (*ferryv1.DeploymentSpec, error) {
	if merged == "" || merged == "{}" {
		return spec, nil
	}
	job := &ferryv1.JobSpec{
		Image: spec.GetImage(), Command: spec.GetCommand(), Env: spec.GetEnv(), Container: spec.GetContainer(),
	}
	if err := t.Apply(job, merged); err != nil {
		return nil, err
	}
	out := proto.CloneOf(spec)
	out.Image, out.Command, out.Env, out.Container = job.GetImage(), job.GetCommand(), job.GetEnv(), job.GetContainer()
	return out, nil
}
