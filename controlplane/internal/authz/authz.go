package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"golang.org/x/sync/singleflight"

	"github.com/ferryhq/ferry/internal/clock"
)

// decisionQuery is the rule the control plane reads; see
// policy/authz/authz.rego.
const decisionQuery = "data.ferry.authz.decision"

// defaultModulesTTL bounds how long a workspace's module version is trusted
// before [Options.WorkspaceModules] is asked again, so that a policy
// activated on another replica takes effect within this time without a
// lookup on every call.
const defaultModulesTTL = 2 * time.Second

// maxCachedWorkspaces bounds the compiled workspace policies held; past it
// the cache is emptied and refilled on demand.
const maxCachedWorkspaces = 10000

// Options configure an [Authorizer].
type Options struct {
	// WorkspaceModules returns the active policy modules a workspace
	// uploaded, and a version that changes whenever they do. Nil, or no
	// modules, evaluates the built-in policy alone. It is called at most
	// once per workspace per ModulesTTL; an error refuses the calls that
	// needed it.
	WorkspaceModules func(ctx context.Context, workspaceID uuid.UUID) ([]Module, string, error)
	// ModulesTTL is how long a workspace's modules are used before
	// WorkspaceModules is asked again. Default 2s.
	ModulesTTL time.Duration
	// Clock tells the time for ModulesTTL. Default the wall clock.
	Clock clock.Clock
	// Log receives a warning when a call cannot be judged. Default discards.
	Log *slog.Logger
}

// Authorizer evaluates the authorization policy. It is safe for concurrent
// use.
type Authorizer struct {
	opts    Options
	builtin map[string]*ast.Module
	base    rego.PreparedEvalQuery

	compiles singleflight.Group
	mu       sync.Mutex
	spaces   map[uuid.UUID]*workspacePolicy
}

// workspacePolicy is a workspace's compiled policy at one version.
type workspacePolicy struct {
	version string
	// query is nil when the modules did not compile; err says why.
	query   *rego.PreparedEvalQuery
	err     error
	checked time.Time
}

// Subject is the caller as the policy sees it.
type Subject struct {
	// Kind is "agent", "anonymous", or how a person or program
	// authenticated (such as "apikey"); see policy/authz/authz.rego.
	Kind string
	// ID names the caller, such as "apikey:ab12cd34".
	ID string
	// Role is the caller's role in its workspace; "" for agents.
	Role string
	// WorkspaceID is the caller's workspace; uuid.Nil when anonymous.
	WorkspaceID uuid.UUID
}

// Input is one call to judge.
type Input struct {
	// Subject is the caller.
	Subject Subject
	// Procedure is the Connect procedure, such as
	// /ferry.v1.RunService/CreateRun.
	Procedure string
	// Resource holds the identifying fields of the request (see
	// [ResourceOf]); nil when unknown.
	Resource map[string]string
}

// Decision is the policy's answer about one call.
type Decision struct {
	// Allow reports whether the call may proceed.
	Allow bool
	// Rule names the rule that decided, such as "role" or "agent_only".
	Rule string
	// Permission is the permission the procedure needs; "" when the policy
	// does not list the procedure.
	Permission string
	// Reason says why, such as "role: viewer lacks permission runs.create".
	Reason string
}

// New compiles the built-in policy and prepares its decision query. It
// fails when the embedded policy does not compile, which is a build defect.
func New(ctx context.Context, opts Options) (*Authorizer, error) {
	if opts.ModulesTTL <= 0 {
		opts.ModulesTTL = defaultModulesTTL
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	builtin, err := loadBuiltin()
	if err != nil {
		return nil, err
	}
	base, err := prepare(ctx, builtin)
	if err != nil {
		return nil, fmt.Errorf("built-in authorization policy: %w", err)
	}
	return &Authorizer{
		opts:    opts,
		builtin: builtin,
		base:    base,
		spaces:  make(map[uuid.UUID]*workspacePolicy),
	}, nil
}

// Check compiles the built-in policy together with mods, as a workspace's
// policy would be, and reports the first problem: a [*CompileError] with
// file, line and column for Rego that does not parse or compile.
func (a *Authorizer) Check(ctx context.Context, mods []Module) error {
	all, err := withWorkspace(a.builtin, mods)
	if err != nil {
		return err
	}
	_, err = prepare(ctx, all)
	return err
}

// Evaluate judges in with the built-in policy and mods, compiled for this
// one evaluation: it is the dry run of a policy not yet active. A nil mods
// evaluates the built-in policy.
func (a *Authorizer) Evaluate(ctx context.Context, mods []Module, in Input) (Decision, error) {
	if len(mods) == 0 {
		return evaluate(ctx, &a.base, in)
	}
	all, err := withWorkspace(a.builtin, mods)
	if err != nil {
		return denied(err)
	}
	pq, err := prepare(ctx, all)
	if err != nil {
		return denied(err)
	}
	return evaluate(ctx, &pq, in)
}

// Authorize judges one call with the policy of the subject's workspace. It
// fails closed: when the call cannot be judged (the workspace's modules
// cannot be loaded or compiled, the evaluation fails, ctx ends) it returns
// the error with a Decision that denies.
func (a *Authorizer) Authorize(ctx context.Context, in Input) (Decision, error) {
	pq, err := a.query(ctx, in.Subject.WorkspaceID)
	if err != nil {
		return denied(err)
	}
	return evaluate(ctx, pq, in)
}

// query returns the prepared query of a workspace: the built-in one unless
// the workspace uploaded modules.
func (a *Authorizer) query(ctx context.Context, ws uuid.UUID) (*rego.PreparedEvalQuery, error) {
	if a.opts.WorkspaceModules == nil || ws == uuid.Nil {
		return &a.base, nil
	}
	now := a.opts.Clock.Now()
	a.mu.Lock()
	wp := a.spaces[ws]
	a.mu.Unlock()
	if wp != nil && now.Sub(wp.checked) < a.opts.ModulesTTL {
		return wp.result()
	}

	mods, version, err := a.opts.WorkspaceModules(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("load policy of workspace %s: %w", ws, err)
	}
	if wp == nil || wp.version != version {
		wp = a.compile(ctx, ws, version, mods)
	}
	a.mu.Lock()
	if len(a.spaces) >= maxCachedWorkspaces {
		clear(a.spaces)
	}
	a.spaces[ws] = &workspacePolicy{version: wp.version, query: wp.query, err: wp.err, checked: now}
	a.mu.Unlock()
	return wp.result()
}

// compile compiles one version of a workspace's modules; concurrent calls
// for the same version share one compilation.
func (a *Authorizer) compile(ctx context.Context, ws uuid.UUID, version string, mods []Module) *workspacePolicy {
	v, _, _ := a.compiles.Do(ws.String()+"\x00"+version, func() (any, error) {
		wp := &workspacePolicy{version: version}
		if len(mods) == 0 {
			wp.query = &a.base
			return wp, nil
		}
		all, err := withWorkspace(a.builtin, mods)
		if err == nil {
			var pq rego.PreparedEvalQuery
			if pq, err = prepare(context.WithoutCancel(ctx), all); err == nil {
				wp.query = &pq
			}
		}
		if err != nil {
			// The store checks modules before activating them, so this is
			// an upgrade that broke an older module: every call of the
			// workspace is refused until the policy is fixed.
			wp.err = fmt.Errorf("policy of workspace %s version %s: %w", ws, version, err)
			a.opts.Log.ErrorContext(ctx, "workspace policy does not compile",
				slog.String("workspace_id", ws.String()), slog.String("version", version), slog.Any("error", err))
		}
		return wp, nil
	})
	return v.(*workspacePolicy)
}

func (wp *workspacePolicy) result() (*rego.PreparedEvalQuery, error) {
	if wp.err != nil {
		return nil, wp.err
	}
	return wp.query, nil
}

// prepare compiles modules and prepares the decision query.
func prepare(ctx context.Context, modules map[string]*ast.Module) (rego.PreparedEvalQuery, error) {
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return rego.PreparedEvalQuery{}, newCompileError(compiler.Errors)
	}
	pq, err := rego.New(
		rego.Query(decisionQuery),
		rego.Compiler(compiler),
		// Without strict errors a failing built-in makes its rule undefined,
		// which for a deny rule would let the call through.
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("prepare %s: %w", decisionQuery, err)
	}
	return pq, nil
}

// evaluate runs a prepared decision query on in.
func evaluate(ctx context.Context, pq *rego.PreparedEvalQuery, in Input) (Decision, error) {
	// OPA notices cancellation only now and then, and a short evaluation
	// may never look.
	if err := ctx.Err(); err != nil {
		return denied(fmt.Errorf("authorize: %w", context.Cause(ctx)))
	}
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(in.value()))
	if err != nil {
		return denied(fmt.Errorf("evaluate authorization policy: %w", err))
	}
	d, err := decisionOf(rs)
	if err != nil {
		return denied(err)
	}
	return d, nil
}

// errMalformed reports a decision that is not the object the control plane
// reads.
var errMalformed = errors.New("authorization policy: decision is not {allow: bool, rule, permission, reason: string}")

func decisionOf(rs rego.ResultSet) (Decision, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{}, fmt.Errorf("authorization policy: %s is undefined", decisionQuery)
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, errMalformed
	}
	var d Decision
	var okAllow, okRule, okPerm, okReason bool
	d.Allow, okAllow = obj["allow"].(bool)
	d.Rule, okRule = obj["rule"].(string)
	d.Permission, okPerm = obj["permission"].(string)
	d.Reason, okReason = obj["reason"].(string)
	if !okAllow || !okRule || !okPerm || !okReason {
		return Decision{}, errMalformed
	}
	return d, nil
}

// failClosedRule is the rule of a decision the policy could not reach.
const failClosedRule = "evaluation_failed"

func denied(err error) (Decision, error) {
	return Decision{Rule: failClosedRule, Reason: "the authorization policy could not judge the call, so it is refused"}, err
}

// value returns the input document as a Rego value, built directly rather
// than through reflection: it is made on every call.
func (in Input) value() ast.Value {
	ws := ""
	if in.Subject.WorkspaceID != uuid.Nil {
		ws = in.Subject.WorkspaceID.String()
	}
	subject := ast.NewObject(
		ast.Item(ast.InternedTerm("kind"), ast.StringTerm(in.Subject.Kind)),
		ast.Item(ast.InternedTerm("id"), ast.StringTerm(in.Subject.ID)),
		ast.Item(ast.InternedTerm("role"), ast.StringTerm(in.Subject.Role)),
		ast.Item(ast.InternedTerm("workspace"), ast.StringTerm(ws)),
	)
	resource := ast.NewObject()
	for k, v := range in.Resource {
		resource.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	return ast.NewObject(
		ast.Item(ast.InternedTerm("subject"), ast.NewTerm(subject)),
		ast.Item(ast.InternedTerm("procedure"), ast.StringTerm(in.Procedure)),
		ast.Item(ast.InternedTerm("resource"), ast.NewTerm(resource)),
	)
}
