package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/internal/secretref"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Limits of an apply file. Field limits mirror the rules declared in the
// proto, so that a file the server would refuse is refused before any call.
const (
	// maxApplyFileBytes caps the size of an apply file.
	maxApplyFileBytes = 4 << 20
	// maxReportedErrors caps the errors listed for one file.
	maxReportedErrors = 20
	// maxJSONBytes is the largest parameters_schema, default_parameters,
	// job_variables or base_job_template the server accepts.
	maxJSONBytes = 65536
	// maxJSONDepth bounds the nesting of a YAML value converted to JSON.
	maxJSONDepth = 64
	// maxNodeVisits bounds the YAML nodes visited while converting to JSON,
	// so that aliases cannot expand a small file into a huge value.
	maxNodeVisits = 200_000
)

// applyFile is the content of a parsed and validated apply file, as the
// requests that apply it, in file order.
type applyFile struct {
	Pools       []*ferryv1.ApplyWorkPoolRequest
	Queues      []*ferryv1.ApplyWorkQueueRequest
	Deployments []*ferryv1.ApplyDeploymentRequest
	// Schedules are the schedules listed under the deployments.
	Schedules []*ferryv1.ApplyScheduleRequest
}

// parseApplyFile parses and validates an apply file; name is used in error
// messages ("ferry.yaml:12: unknown field ..."). Decoding is strict: an
// unknown field, a value of the wrong kind or out of range, a duplicate
// name or a second YAML document is an error. All errors found (up to
// [maxReportedErrors]) are returned together.
func parseApplyFile(name string, data []byte) (*applyFile, error) {
	if len(data) > maxApplyFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxApplyFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return &applyFile{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return nil, fmt.Errorf("%s:%d: only one YAML document is allowed", name, extra.Line)
	}

	p := &fileParser{
		file:        name,
		poolLines:   map[string]int{},
		queueLines:  map[string]int{},
		deployLines: map[string]int{},
	}
	out := &applyFile{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return out, nil
	}
	p.fields(root, "the file", map[string]fieldFunc{
		"pools": func(v *yaml.Node) {
			p.each(v, "pools", func(item *yaml.Node) { out.Pools = append(out.Pools, p.pool(item)) })
		},
		"queues": func(v *yaml.Node) {
			p.each(v, "queues", func(item *yaml.Node) { out.Queues = append(out.Queues, p.queue(item)) })
		},
		"deployments": func(v *yaml.Node) {
			p.each(v, "deployments", func(item *yaml.Node) { out.Deployments = append(out.Deployments, p.deployment(item)) })
		},
	})
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	out.Schedules = p.schedules
	return out, nil
}

// fileParser walks the YAML tree of an apply file, collecting errors
// instead of stopping at the first.
type fileParser struct {
	file   string
	errs   []error
	visits int

	// name -> line of first definition, to report duplicates.
	poolLines   map[string]int
	queueLines  map[string]int
	deployLines map[string]int

	// schedules collects the schedules of every deployment.
	schedules []*ferryv1.ApplyScheduleRequest
}

// fieldFunc decodes the value of one field.
type fieldFunc func(v *yaml.Node)

func (p *fileParser) errorf(n *yaml.Node, format string, args ...any) {
	switch {
	case len(p.errs) < maxReportedErrors:
		p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...)))
	case len(p.errs) == maxReportedErrors:
		p.errs = append(p.errs, fmt.Errorf("%s: too many errors, stopped listing them", p.file))
	}
}

// deref follows aliases to the node they name.
func (p *fileParser) deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// fields calls the handler of each key of the mapping n; what names the
// mapping in messages.
func (p *fileParser) fields(n *yaml.Node, what string, handlers map[string]fieldFunc) {
	n = p.deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of fields", what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: a field name must be a plain word", what)
			continue
		}
		if k.ShortTag() == "!!merge" {
			p.errorf(k, "%s: merge keys (<<) are not supported", what)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(k, "%s: field %q is already set on line %d", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		handle, ok := handlers[k.Value]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			slices.Sort(known)
			p.errorf(k, "unknown field %q in %s (known fields: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		handle(v)
	}
}

// each calls fn for every item of the sequence n; null means empty.
func (p *fileParser) each(n *yaml.Node, field string, fn func(*yaml.Node)) {
	n = p.deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list", field)
		return
	}
	for _, item := range n.Content {
		fn(item)
	}
}

// describe names a mapping for messages by its name field, when it has one.
func (p *fileParser) describe(n *yaml.Node, kind string) string {
	n = p.deref(n)
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := p.deref(n.Content[i]), p.deref(n.Content[i+1])
			if k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				return fmt.Sprintf("%s %q", kind, v.Value)
			}
		}
	}
	return kind
}

func (p *fileParser) pool(n *yaml.Node) *ferryv1.ApplyWorkPoolRequest {
	what := p.describe(n, "work pool")
	req := &ferryv1.ApplyWorkPoolRequest{}
	p.fields(n, what, map[string]fieldFunc{
		"name":              func(v *yaml.Node) { req.Name = p.name(v, "name") },
		"type":              func(v *yaml.Node) { req.Type = p.poolType(v) },
		"description":       func(v *yaml.Node) { req.Description = p.text(v, "description", 1024) },
		"paused":            func(v *yaml.Node) { req.Paused = p.boolean(v, "paused") },
		"concurrency_limit": func(v *yaml.Node) { req.ConcurrencyLimit = p.int32In(v, "concurrency_limit", 0, 1_000_000) },
		"base_job_template": func(v *yaml.Node) { req.BaseJobTemplate = p.jsonObject(v, "base_job_template") },
	})
	if p.deref(n).Kind != yaml.MappingNode {
		return req
	}
	if req.Name == "" {
		p.errorf(n, "%s: name is required", what)
	} else if line, dup := p.poolLines[req.Name]; dup {
		p.errorf(n, "work pool %q is already defined on line %d", req.Name, line)
	} else {
		p.poolLines[req.Name] = n.Line
	}
	if req.Type == ferryv1.WorkPoolType_WORK_POOL_TYPE_UNSPECIFIED {
		p.errorf(n, "%s: type is required (process, docker or ecs)", what)
	}
	return req
}

func (p *fileParser) queue(n *yaml.Node) *ferryv1.ApplyWorkQueueRequest {
	what := p.describe(n, "work queue")
	req := &ferryv1.ApplyWorkQueueRequest{}
	p.fields(n, what, map[string]fieldFunc{
		"pool":              func(v *yaml.Node) { req.Pool = p.name(v, "pool") },
		"name":              func(v *yaml.Node) { req.Name = p.name(v, "name") },
		"priority":          func(v *yaml.Node) { req.Priority = p.int32In(v, "priority", -1000, 1000) },
		"paused":            func(v *yaml.Node) { req.Paused = p.boolean(v, "paused") },
		"concurrency_limit": func(v *yaml.Node) { req.ConcurrencyLimit = p.int32In(v, "concurrency_limit", 0, 1_000_000) },
	})
	if p.deref(n).Kind != yaml.MappingNode {
		return req
	}
	if req.Pool == "" {
		p.errorf(n, "%s: pool is required", what)
	}
	if req.Name == "" {
		p.errorf(n, "%s: name is required", what)
	}
	key := req.Pool + "/" + req.Name
	if line, dup := p.queueLines[key]; dup {
		p.errorf(n, "work queue %q is already defined on line %d", key, line)
	} else {
		p.queueLines[key] = n.Line
	}
	return req
}

func (p *fileParser) deployment(n *yaml.Node) *ferryv1.ApplyDeploymentRequest {
	what := p.describe(n, "deployment")
	spec := &ferryv1.DeploymentSpec{}
	req := &ferryv1.ApplyDeploymentRequest{Spec: spec}
	var schedules []*ferryv1.ApplyScheduleRequest
	// The retry policy is set only when the file mentions it, so that a
	// file without retry fields always sends the same spec.
	retry := func() *ferryv1.RetryPolicy {
		if spec.Retry == nil {
			spec.Retry = &ferryv1.RetryPolicy{}
		}
		return spec.Retry
	}
	p.fields(n, what, map[string]fieldFunc{
		"name":               func(v *yaml.Node) { req.Name = p.name(v, "name") },
		"pool":               func(v *yaml.Node) { spec.Pool = p.name(v, "pool") },
		"queue":              func(v *yaml.Node) { spec.Queue = p.name(v, "queue") },
		"description":        func(v *yaml.Node) { spec.Description = p.text(v, "description", 2048) },
		"command":            func(v *yaml.Node) { spec.Command = p.strings(v, "command", 256, 4096) },
		"env":                func(v *yaml.Node) { spec.Env = p.env(v) },
		"working_dir":        func(v *yaml.Node) { spec.WorkingDir = p.text(v, "working_dir", 1024) },
		"parameters_schema":  func(v *yaml.Node) { spec.ParametersSchema = p.jsonObject(v, "parameters_schema") },
		"default_parameters": func(v *yaml.Node) { spec.DefaultParameters = p.jsonObject(v, "default_parameters") },
		"timeout":            func(v *yaml.Node) { spec.Timeout = p.duration(v, "timeout") },
		"retries":            func(v *yaml.Node) { retry().Retries = p.int32In(v, "retries", 0, 100) },
		"retry_delay":        func(v *yaml.Node) { retry().Delay = p.duration(v, "retry_delay") },
		"retry_on":           func(v *yaml.Node) { retry().On = p.retryOn(v) },
		"tags":               func(v *yaml.Node) { spec.Tags = p.tags(v) },
		"priority":           func(v *yaml.Node) { spec.Priority = p.int32In(v, "priority", -1000, 1000) },
		"image":              func(v *yaml.Node) { spec.Image = p.text(v, "image", 512) },
		"secrets":            func(v *yaml.Node) { spec.Secrets = p.secrets(v) },
		"container":          func(v *yaml.Node) { spec.Container = p.container(v, what) },
		"schedules":          func(v *yaml.Node) { schedules = p.schedulesOf(v, what) },
		"job_variables":      func(v *yaml.Node) { spec.JobVariables = p.jsonObject(v, "job_variables") },
		"concurrency_limit":  func(v *yaml.Node) { spec.ConcurrencyLimit = p.int32In(v, "concurrency_limit", 0, 1_000_000) },
		"collision_strategy": func(v *yaml.Node) { spec.CollisionStrategy = p.collisionStrategy(v) },
		"limits": func(v *yaml.Node) {
			spec.Limits = p.strings(v, "limits", 16, 63)
			for _, name := range spec.Limits {
				if !nameRE.MatchString(name) {
					p.errorf(v, "limits: %q is not a limit name (lower-case letters, digits and '-')", name)
				}
			}
		},
	})
	for _, s := range schedules {
		s.Deployment = req.Name
	}
	p.schedules = append(p.schedules, schedules...)
	if p.deref(n).Kind != yaml.MappingNode {
		return req
	}
	if req.Name == "" {
		p.errorf(n, "%s: name is required", what)
	} else if line, dup := p.deployLines[req.Name]; dup {
		p.errorf(n, "deployment %q is already defined on line %d", req.Name, line)
	} else {
		p.deployLines[req.Name] = n.Line
	}
	if spec.Pool == "" {
		p.errorf(n, "%s: pool is required", what)
	}
	if len(spec.Command) == 0 {
		p.errorf(n, "%s: command is required (a list such as [python, report.py])", what)
	}
	return req
}

// scalar returns the scalar n, or reports that field needs one.
func (p *fileParser) scalar(n *yaml.Node, field, want string) (*yaml.Node, bool) {
	n = p.deref(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be %s", field, want)
		return n, false
	}
	return n, true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// text decodes a string of at most limit bytes. Any scalar is accepted as
// its literal text; null is the empty string.
func (p *fileParser) text(n *yaml.Node, field string, limit int) string {
	n, ok := p.scalar(n, field, "a string")
	if !ok || isNull(n) {
		return ""
	}
	if len(n.Value) > limit {
		p.errorf(n, "%s is longer than %d bytes", field, limit)
		return ""
	}
	if !utf8.ValidString(n.Value) {
		p.errorf(n, "%s is not valid UTF-8", field)
		return ""
	}
	return n.Value
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// name decodes a resource name: lower-case letters, digits and '-'.
func (p *fileParser) name(n *yaml.Node, field string) string {
	s := p.text(n, field, 63)
	if s != "" && !nameRE.MatchString(s) {
		p.errorf(n, "%s %q: want 1 to 63 lower-case letters, digits and '-', starting with a letter and not ending with '-'", field, s)
		return ""
	}
	return s
}

func (p *fileParser) boolean(n *yaml.Node, field string) bool {
	n, ok := p.scalar(n, field, "true or false")
	if !ok || isNull(n) {
		return false
	}
	var b bool
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s must be true or false, not %q", field, n.Value)
	}
	return b
}

func (p *fileParser) int32In(n *yaml.Node, field string, lo, hi int64) int32 {
	// The callers' bounds lie within int32.
	return int32(p.int64In(n, field, lo, hi))
}

// duration decodes a Go duration ("90s", "5m"); zero and null mean unset.
func (p *fileParser) duration(n *yaml.Node, field string) *durationpb.Duration {
	n, ok := p.scalar(n, field, "a duration such as 30s, 5m or 1h30m")
	if !ok || isNull(n) {
		return nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < 0 {
		p.errorf(n, "%s must be a duration such as 30s, 5m or 1h30m, not %q", field, n.Value)
		return nil
	}
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

// strings decodes a list of at most maxItems strings of at most maxLen
// bytes each.
func (p *fileParser) strings(n *yaml.Node, field string, maxItems, maxLen int) []string {
	var out []string
	p.each(n, field, func(item *yaml.Node) {
		out = append(out, p.text(item, field+" item", maxLen))
	})
	if len(out) > maxItems {
		p.errorf(n, "%s has %d items; the limit is %d", field, len(out), maxItems)
	}
	return out
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// env decodes the environment mapping; scalar values of any kind are taken
// as their literal text (PORT: 8080 is "8080").
func (p *fileParser) env(n *yaml.Node) map[string]string {
	return p.varMap(n, "env", "NAME: value", 256, func(name string, v *yaml.Node) (string, bool) {
		return p.text(v, "env "+name, 8192), true
	})
}

// secrets decodes a mapping of environment variable names to secret
// references, checking each reference's syntax as the server does.
func (p *fileParser) secrets(n *yaml.Node) map[string]string {
	return p.varMap(n, "secrets", "NAME: reference (env://, file://, aws-sm://, aws-ssm://)", 64,
		func(name string, v *yaml.Node) (string, bool) {
			ref := p.text(v, "secrets "+name, secretref.MaxLen)
			if _, err := secretref.Parse(ref); err != nil {
				p.errorf(v, "secrets %s: %v", name, err)
				return "", false
			}
			return ref, true
		})
}

// varMap decodes a mapping keyed by environment variable names, at most
// limit of them; value decodes and checks each value.
func (p *fileParser) varMap(n *yaml.Node, field, shape string, limit int, value func(name string, v *yaml.Node) (string, bool)) map[string]string {
	n = p.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of %s", field, shape)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.deref(n.Content[i])
		if k.Kind != yaml.ScalarNode || !envNameRE.MatchString(k.Value) {
			p.errorf(k, "%s: %q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", field, k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, "%s: %s is set twice", field, k.Value)
			continue
		}
		if v, ok := value(k.Value, n.Content[i+1]); ok {
			out[k.Value] = v
		}
	}
	if len(out) > limit {
		p.errorf(n, "%s has %d entries; the limit is %d", field, len(out), limit)
	}
	return out
}

// container decodes the container settings of docker and ecs pools.
func (p *fileParser) container(n *yaml.Node, what string) *ferryv1.ContainerSpec {
	c := &ferryv1.ContainerSpec{}
	p.fields(n, what+" container", map[string]fieldFunc{
		"pull_policy":    func(v *yaml.Node) { c.PullPolicy = p.pullPolicy(v) },
		"user":           func(v *yaml.Node) { c.User = p.text(v, "container.user", 64) },
		"milli_cpus":     func(v *yaml.Node) { c.MilliCpus = p.int32In(v, "container.milli_cpus", 0, 256000) },
		"memory_bytes":   func(v *yaml.Node) { c.MemoryBytes = p.int64In(v, "container.memory_bytes", 0, 1<<40) },
		"network":        func(v *yaml.Node) { c.Network = p.text(v, "container.network", 128) },
		"privileged":     func(v *yaml.Node) { c.Privileged = p.boolean(v, "container.privileged") },
		"labels":         func(v *yaml.Node) { c.Labels = p.labels(v) },
		"stop_grace":     func(v *yaml.Node) { c.StopGrace = p.duration(v, "container.stop_grace") },
		"keep_container": func(v *yaml.Node) { c.KeepContainer = p.boolean(v, "container.keep_container") },
		"mounts": func(v *yaml.Node) {
			v = p.deref(v)
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "container.mounts must be a list of {source, target, read_only}")
				return
			}
			for _, item := range v.Content {
				m := &ferryv1.Mount{}
				p.fields(item, "mount", map[string]fieldFunc{
					"source":    func(x *yaml.Node) { m.Source = p.text(x, "mount.source", 1024) },
					"target":    func(x *yaml.Node) { m.Target = p.text(x, "mount.target", 1024) },
					"read_only": func(x *yaml.Node) { m.ReadOnly = p.boolean(x, "mount.read_only") },
				})
				if m.Source == "" || m.Target == "" {
					p.errorf(item, "mount: source and target are required")
				}
				c.Mounts = append(c.Mounts, m)
			}
		},
	})
	return c
}

func (p *fileParser) collisionStrategy(n *yaml.Node) ferryv1.CollisionStrategy {
	switch v := p.text(n, "collision_strategy", 32); strings.ToLower(v) {
	case "":
		return ferryv1.CollisionStrategy_COLLISION_STRATEGY_UNSPECIFIED
	case "enqueue":
		return ferryv1.CollisionStrategy_COLLISION_STRATEGY_ENQUEUE
	case "cancel_new", "cancel-new":
		return ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_NEW
	case "cancel_oldest", "cancel-oldest":
		return ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_OLDEST
	default:
		p.errorf(n, "collision_strategy must be enqueue, cancel_new or cancel_oldest, not %q", v)
	}
	return ferryv1.CollisionStrategy_COLLISION_STRATEGY_UNSPECIFIED
}

func (p *fileParser) pullPolicy(n *yaml.Node) ferryv1.PullPolicy {
	switch v := p.text(n, "container.pull_policy", 32); strings.ToLower(v) {
	case "", "if-not-present", "if_not_present":
		return ferryv1.PullPolicy_PULL_POLICY_IF_NOT_PRESENT
	case "always":
		return ferryv1.PullPolicy_PULL_POLICY_ALWAYS
	case "never":
		return ferryv1.PullPolicy_PULL_POLICY_NEVER
	default:
		p.errorf(n, "container.pull_policy must be always, if-not-present or never, not %q", v)
	}
	return ferryv1.PullPolicy_PULL_POLICY_UNSPECIFIED
}

// labels decodes a mapping of container labels.
func (p *fileParser) labels(n *yaml.Node) map[string]string {
	n = p.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "container.labels must be a mapping of key: value")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.text(n.Content[i], "container.labels key", 256)
		out[k] = p.text(n.Content[i+1], "container.labels "+k, 256)
	}
	if len(out) > 32 {
		p.errorf(n, "container.labels has %d entries; the limit is 32", len(out))
	}
	return out
}

func (p *fileParser) int64In(n *yaml.Node, field string, lo, hi int64) int64 {
	n, ok := p.scalar(n, field, "a whole number")
	if !ok || isNull(n) {
		return 0
	}
	var v int64
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.errorf(n, "%s must be a whole number, not %q", field, n.Value)
		return 0
	}
	if v < lo || v > hi {
		p.errorf(n, "%s must be between %d and %d, not %d", field, lo, hi, v)
		return 0
	}
	return v
}

func (p *fileParser) poolType(n *yaml.Node) ferryv1.WorkPoolType {
	s := p.text(n, "type", 64)
	switch strings.ToLower(s) {
	case "process":
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS
	case "docker":
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER
	case "ecs":
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS
	case "":
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_UNSPECIFIED
	}
	p.errorf(n, "type must be process, docker or ecs, not %q", s)
	return ferryv1.WorkPoolType_WORK_POOL_TYPE_UNSPECIFIED
}

func (p *fileParser) retryOn(n *yaml.Node) []ferryv1.RetryCondition {
	var out []ferryv1.RetryCondition
	p.each(n, "retry_on", func(item *yaml.Node) {
		s := p.text(item, "retry_on item", 64)
		var c ferryv1.RetryCondition
		switch strings.ToLower(s) {
		case "failed":
			c = ferryv1.RetryCondition_RETRY_CONDITION_FAILED
		case "crashed":
			c = ferryv1.RetryCondition_RETRY_CONDITION_CRASHED
		case "timed_out":
			c = ferryv1.RetryCondition_RETRY_CONDITION_TIMED_OUT
		default:
			p.errorf(item, "retry_on: want failed, crashed or timed_out, not %q", s)
			return
		}
		if slices.Contains(out, c) {
			p.errorf(item, "retry_on: %s is listed twice", s)
			return
		}
		out = append(out, c)
	})
	return out
}

// tags decodes up to 32 labels: 1 to 63 printable characters without spaces.
func (p *fileParser) tags(n *yaml.Node) []string {
	var out []string
	p.each(n, "tags", func(item *yaml.Node) {
		s := p.text(item, "tag", 63)
		if s == "" || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
			p.errorf(item, "tag %q: want 1 to 63 printable characters without spaces", s)
			return
		}
		out = append(out, s)
	})
	if len(out) > 32 {
		p.errorf(n, "tags has %d items; the limit is 32", len(out))
	}
	return out
}
