package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
)

// The rules the agent reads. deny is the decision; config_errors, when the
// policy defines it, is checked once by [New].
const (
	denyQuery         = "data.ferry.agent.deny"
	configErrorsQuery = "data.ferry.agent.config_errors"
)

// Config says which policy to evaluate and with which settings.
type Config struct {
	// Data holds the agent's policy settings, given to the policy as
	// data.ferry.agent.config; it must be JSON-compatible. Nil gives every
	// setting its default. The built-in policy's settings are described in
	// policy/agent/agent.rego.
	Data map[string]any
	// ExtraFiles are paths of customer Rego v1 files that extend the
	// policy. Each must declare package ferry.agent; its deny rules are
	// added to the policy's.
	ExtraFiles []string
	// ReplaceDir, when set, is a directory whose .rego files replace the
	// built-in policy entirely. Test files (*_test.rego) and subdirectories
	// are ignored. The files must define data.ferry.agent.deny, a set of
	// messages. ExtraFiles still extend the replacement.
	ReplaceDir string
}

// Policy is a compiled agent policy. It is safe for concurrent use.
type Policy struct {
	deny rego.PreparedEvalQuery
}

// Decision is the policy's answer about one work order.
type Decision struct {
	// Allowed reports whether the run may be launched.
	Allowed bool
	// Denials holds, sorted, the messages of the rules that refused the
	// run; it is empty when Allowed.
	Denials []string
}

// Message returns the denials joined by "; ", as the reason to record for
// a rejected run.
func (d Decision) Message() string {
	return strings.Join(d.Denials, "; ")
}

// New loads and compiles the policy cfg selects, once. A syntax or compile
// error in any file is returned as a [*CompileError] giving file, line and
// column. New also refuses a policy that defines no data.ferry.agent.deny
// rule, and settings that the policy's config_errors rule reports, so a bad
// configuration stops the agent at start rather than rejecting every run.
func New(ctx context.Context, cfg Config) (*Policy, error) {
	modules, err := loadModules(cfg)
	if err != nil {
		return nil, err
	}

	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return nil, newCompileError(compiler.Errors)
	}
	if len(compiler.GetRulesExact(ast.MustParseRef(denyQuery))) == 0 {
		return nil, fmt.Errorf("policy defines no %s rule", denyQuery)
	}
	store, err := newStore(cfg.Data)
	if err != nil {
		return nil, err
	}

	deny, err := prepare(ctx, compiler, store, denyQuery)
	if err != nil {
		return nil, err
	}
	if len(compiler.GetRulesExact(ast.MustParseRef(configErrorsQuery))) > 0 {
		if err := checkSettings(ctx, compiler, store); err != nil {
			return nil, err
		}
	}
	return &Policy{deny: deny}, nil
}

// Evaluate judges one work order. It fails closed: when the policy cannot
// be evaluated (an error in a rule, a cancelled ctx, a deny that is not a
// set of strings), it returns the error together with a Decision that
// denies the run with a message saying so, so a caller that looks only at
// the Decision still launches nothing.
func (p *Policy) Evaluate(ctx context.Context, in Input) (Decision, error) {
	// OPA notices cancellation only now and then, and a short evaluation
	// may never look.
	if err := ctx.Err(); err != nil {
		return failClosed(fmt.Errorf("evaluate policy: %w", context.Cause(ctx)))
	}
	value, err := ast.InterfaceToValue(in.document())
	if err != nil {
		return failClosed(fmt.Errorf("build policy input: %w", err))
	}
	rs, err := p.deny.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return failClosed(fmt.Errorf("evaluate policy: %w", err))
	}
	denials, err := messages(rs, denyQuery)
	if err != nil {
		return failClosed(err)
	}
	return Decision{Allowed: len(denials) == 0, Denials: denials}, nil
}

func failClosed(err error) (Decision, error) {
	return Decision{Denials: []string{"policy: evaluation failed, so the run is refused: " + err.Error()}}, err
}

func prepare(
	ctx context.Context,
	c *ast.Compiler,
	store storage.Store,
	query string,
) (rego.PreparedEvalQuery, error) {
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(c),
		rego.Store(store),
		// Without strict errors a failing built-in makes its rule undefined,
		// which for a deny rule would let the run through.
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("prepare %s: %w", query, err)
	}
	return pq, nil
}

// newStore holds the settings at data.ferry.agent.config. They go through
// JSON so that any JSON-compatible Go value becomes a Rego value.
func newStore(settings map[string]any) (storage.Store, error) {
	if settings == nil {
		settings = map[string]any{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("encode policy settings: %w", err)
	}
	var config map[string]any
	if err := util.NewJSONDecoder(bytes.NewReader(raw)).Decode(&config); err != nil {
		return nil, fmt.Errorf("decode policy settings: %w", err)
	}
	data := map[string]any{"ferry": map[string]any{"agent": map[string]any{"config": config}}}
	return inmem.NewFromObject(data), nil
}

// checkSettings evaluates config_errors, which depends on the settings
// alone, and reports its messages.
func checkSettings(ctx context.Context, c *ast.Compiler, store storage.Store) error {
	pq, err := prepare(ctx, c, store, configErrorsQuery)
	if err != nil {
		return err
	}
	rs, err := pq.Eval(ctx)
	if err != nil {
		return fmt.Errorf("check policy settings: %w", err)
	}
	problems, err := messages(rs, configErrorsQuery)
	if err != nil {
		return fmt.Errorf("check policy settings: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("policy settings: %s", strings.Join(problems, "; "))
	}
	return nil
}

// messages reads a rule's value as a sorted list of strings. An undefined
// rule is an error: the policy must give its answer explicitly.
func messages(rs rego.ResultSet, query string) ([]string, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("%s is undefined", query)
	}
	items, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is a %T, not a set of strings", query, rs[0].Expressions[0].Value)
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s holds a %T, not a string", query, item)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}
