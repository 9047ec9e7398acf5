package policystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Builtin is the built-in policy of one kind, which workspace modules
// extend.
type Builtin struct {
	// Modules are the built-in Rego files, without their tests. Their names
	// must not start with "workspace/".
	Modules []Module
	// Data is the base document the policy reads as data; nil for none.
	Data map[string]any
	// DenyQuery is the query whose value is the set (or array) of messages
	// of the whole decision, workspace denials included; the decision
	// allows when it is empty or undefined. For example
	// "data.ferry.authz.deny". A workspace denial may appear in it as is
	// or after a prefix ending in ": " ("workspace: no writes on Friday").
	DenyQuery string
	// AllowQuery, when set, is a boolean query that must be true for the
	// decision to allow, for a policy that denies by default, such as
	// "data.ferry.authz.allow".
	AllowQuery string
}

// BuiltinFunc returns the built-in policy of a kind.
type BuiltinFunc func(kind Kind) (Builtin, error)

// BuiltinFromFS returns a [Builtin] of the .rego files at the root of fsys,
// less the tests (*_test.rego), named "builtin/<kind>/<file>".
func BuiltinFromFS(kind Kind, fsys fs.FS, denyQuery string) (Builtin, error) {
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return Builtin{}, fmt.Errorf("list built-in %s policy: %w", kind, err)
	}
	b := Builtin{DenyQuery: denyQuery}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return Builtin{}, fmt.Errorf("read built-in %s policy: %w", kind, err)
		}
		b.Modules = append(b.Modules, Module{Name: path.Join("builtin", string(kind), name), Source: string(src)})
	}
	if len(b.Modules) == 0 {
		return Builtin{}, fmt.Errorf("built-in %s policy has no .rego file", kind)
	}
	return b, nil
}

// Compiled is a built-in policy compiled together with workspace modules.
// It is safe for concurrent use.
type Compiled struct {
	kind       Kind
	compiler   *ast.Compiler
	store      storage.Store
	denyQuery  string
	allowQuery string
}

// Compile parses and compiles the built-in policy b with the workspace
// modules of kind, under [Capabilities]. The workspace modules are checked
// with [Check] first (their Name is the policy name, not the file name).
// Problems in the Rego come back as a [*CompileError]; an error in the
// built-in policy itself is returned as a plain error.
func Compile(kind Kind, b Builtin, workspace []Module) (*Compiled, error) {
	if b.DenyQuery == "" {
		return nil, errors.New("built-in policy has no deny query")
	}
	modules := make(map[string]*ast.Module, len(b.Modules)+len(workspace))
	for _, m := range b.Modules {
		if strings.HasPrefix(m.Name, moduleFilePrefix) {
			return nil, fmt.Errorf("built-in module %s uses the workspace prefix", m.Name)
		}
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse built-in %s policy: %w", kind, err)
		}
		modules[m.Name] = mod
	}
	for _, m := range workspace {
		mod, err := Check(kind, m.Name, m.Source)
		if err != nil {
			return nil, err
		}
		file := ModuleFileName(m.Name)
		if _, dup := modules[file]; dup {
			return nil, fmt.Errorf("two workspace modules named %s", m.Name)
		}
		modules[file] = mod
	}

	// The built-in modules are compiled under the same capabilities: a
	// built-in policy has no reason to reach the network either.
	compiler := ast.NewCompiler().WithCapabilities(Capabilities())
	if compiler.Compile(modules); compiler.Failed() {
		if builtinFailed(compiler.Errors) {
			return nil, fmt.Errorf("compile built-in %s policy: %w", kind, compiler.Errors)
		}
		return nil, newCompileError(compiler.Errors)
	}
	data := b.Data
	if data == nil {
		data = map[string]any{}
	}
	return &Compiled{
		kind: kind, compiler: compiler, store: inmem.NewFromObject(data),
		denyQuery: b.DenyQuery, allowQuery: b.AllowQuery,
	}, nil
}

// builtinFailed reports whether any error lies in a built-in module.
func builtinFailed(errs ast.Errors) bool {
	for _, e := range errs {
		if e.Location == nil || !strings.HasPrefix(e.Location.File, moduleFilePrefix) {
			return true
		}
	}
	return false
}

// Decision is the outcome of one evaluation.
type Decision struct {
	// Allowed reports whether the decision allows.
	Allowed bool
	// Denials are the reasons it denies, sorted by message.
	Denials []Denial
	// Explanation summarizes the evaluation, one line per entry, at most
	// [maxExplanationLines]; a cut explanation ends with a line saying so.
	Explanation []string
}

// Denial is one reason a decision denies.
type Denial struct {
	Message string
	// Workspace is true when a workspace policy produced the message.
	Workspace bool
	// Rule is "file:line" of the rule that produced the message, when the
	// trace shows it.
	Rule string
}

// Limits on explanations, so a dry run's answer stays readable and small.
const (
	maxExplanationLines = 200
	maxLineBytes        = 400
)

// Explain evaluates input (a JSON object) and explains the decision: the
// rules that denied, the notes of trace() calls and, when full is set, OPA's
// whole trace with locations. An input that is not a JSON object returns an
// error wrapping [ErrInvalidInput]; a failed evaluation, such as a rule that
// produces conflicting values, returns the evaluation error.
func (c *Compiled) Explain(ctx context.Context, inputJSON string, full bool) (Decision, error) {
	var input map[string]any
	dec := json.NewDecoder(strings.NewReader(inputJSON))
	dec.UseNumber()
	if err := dec.Decode(&input); err != nil || input == nil {
		return Decision{}, fmt.Errorf("%w: input must be a JSON object", ErrInvalidInput)
	}
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}

	tracer := &ruleTracer{}
	all, err := c.messages(ctx, c.denyQuery, value, tracer)
	if err != nil {
		return Decision{}, err
	}
	workspace, err := c.messages(ctx, c.kind.DenyRef(), value, nil)
	if err != nil {
		return Decision{}, err
	}

	// The built-in policy includes each workspace denial, as is or behind
	// a prefix; one it left out is added, so a dry run never allows what a
	// workspace policy denies.
	denials := make(map[string]Denial, len(all))
	for m := range all {
		denials[m] = Denial{Message: m, Rule: tracer.origin[m]}
	}
	for w := range workspace {
		found := false
		for m, d := range denials {
			if m == w || strings.HasSuffix(m, ": "+w) {
				d.Workspace, d.Rule, found = true, tracer.origin[w], true
				denials[m] = d
			}
		}
		if !found {
			denials[w] = Denial{Message: w, Workspace: true, Rule: tracer.origin[w]}
		}
	}
	d := Decision{Allowed: len(denials) == 0}
	for _, m := range slices.Sorted(maps.Keys(denials)) {
		d.Denials = append(d.Denials, denials[m])
	}
	if d.Allowed && c.allowQuery != "" {
		allowed, err := c.allowed(ctx, value)
		if err != nil {
			return Decision{}, err
		}
		if !allowed {
			d.Allowed = false
			d.Denials = []Denial{{Message: "no rule allowed the call (" + c.allowQuery + " is not true)"}}
		}
	}
	d.Explanation = explain(d, tracer, full)
	return d, nil
}

// allowed evaluates the allow query: true only when it is defined and true.
func (c *Compiled) allowed(ctx context.Context, input ast.Value) (bool, error) {
	rs, err := rego.New(
		rego.Query(c.allowQuery),
		rego.Compiler(c.compiler),
		rego.Store(c.store),
		rego.ParsedInput(input),
	).Eval(ctx)
	if err != nil {
		return false, fmt.Errorf("evaluate %s: %w", c.allowQuery, err)
	}
	return rs.Allowed(), nil
}

// messages evaluates query and returns its value as a set of strings.
func (c *Compiled) messages(ctx context.Context, query string, input ast.Value, tracer topdown.QueryTracer) (map[string]bool, error) {
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Compiler(c.compiler),
		rego.Store(c.store),
		rego.ParsedInput(input),
	}
	if tracer != nil {
		opts = append(opts, rego.QueryTracer(tracer))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", query, err)
	}
	out := make(map[string]bool)
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return out, nil
	}
	var items []any
	switch v := rs[0].Expressions[0].Value.(type) {
	case []any:
		items = v
	default:
		return nil, fmt.Errorf("%s is a %T, want a set of messages", query, v)
	}
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s holds %v, want only strings", query, item)
		}
		out[s] = true
	}
	return out, nil
}

// ruleTracer records every trace event, and for each message produced by a
// rule, the location of the first rule that produced it: the innermost,
// since a rule exits before the rules that consult it.
type ruleTracer struct {
	events topdown.BufferTracer
	origin map[string]string
}

// Enabled reports that the tracer wants events.
func (t *ruleTracer) Enabled() bool { return true }

// Config asks for local variables plugged into the events.
func (t *ruleTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{PlugLocalVars: true} }

// TraceEvent records evt. Bindings change after the event, so a rule's
// message is read here, as the rule exits.
func (t *ruleTracer) TraceEvent(evt topdown.Event) {
	if r, ok := evt.Node.(*ast.Rule); ok && evt.Op == topdown.ExitOp && r.Head.Key != nil {
		if s, ok := evt.Plug(r.Head.Key).Value.(ast.String); ok {
			if t.origin == nil {
				t.origin = make(map[string]string)
			}
			if _, seen := t.origin[string(s)]; !seen && r.Location != nil {
				t.origin[string(s)] = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
			}
		}
	}
	t.events.TraceEvent(evt)
}

// explain renders the decision, the notes and optionally the full trace.
func explain(d Decision, t *ruleTracer, full bool) []string {
	var lines []string
	if d.Allowed {
		lines = append(lines, "allowed: no rule denied")
	} else {
		lines = append(lines, fmt.Sprintf("denied by %d rule(s):", len(d.Denials)))
		for _, den := range d.Denials {
			source := "built-in"
			if den.Workspace {
				source = "workspace"
			}
			rule := den.Rule
			if rule == "" {
				rule = "(rule not traced)"
			}
			lines = append(lines, fmt.Sprintf("  %s %s: %s", source, rule, den.Message))
		}
	}
	notes := topdown.BufferTracer{}
	for _, e := range t.events {
		if e.Op == topdown.NoteOp {
			notes = append(notes, e)
		}
	}
	if len(notes) > 0 {
		lines = append(lines, "notes:")
		for _, e := range notes {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Row)
			}
			lines = append(lines, "  "+loc+e.Message)
		}
	}
	if full {
		var buf bytes.Buffer
		topdown.PrettyTraceWithLocation(&buf, t.events)
		lines = append(lines, "trace:")
		lines = append(lines, strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")...)
	}
	return bound(lines)
}

// bound cuts each line to maxLineBytes and the list to
// maxExplanationLines, saying how much was left out.
func bound(lines []string) []string {
	for i, l := range lines {
		if len(l) > maxLineBytes {
			lines[i] = strings.ToValidUTF8(l[:maxLineBytes], "") + " …"
		}
	}
	if len(lines) > maxExplanationLines {
		cut := len(lines) - (maxExplanationLines - 1)
		lines = append(lines[:maxExplanationLines-1], fmt.Sprintf("… %d more lines not shown", cut))
	}
	return lines
}
