// Package admission decides what a deployment may contain, with the Rego
// policy in policy/admission (package ferry.admission) evaluated by the
// embedded OPA library: image registries and digests, resource caps,
// required tags, secret references, privileged containers, the host
// network and host mounts. The control plane checks a deployment when it
// is applied and again when each of its runs is dispatched, since the
// settings or the workspace's policy may have changed in between.
//
// A [Checker] compiles the built-in policy once, and once more for each
// version of a workspace's uploaded admission modules. It fails closed: a
// deployment the policy cannot judge is refused.
//
// This package decides; it never writes anything and never reads the
// database itself.
package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	admissionpolicy "github.com/ferryhq/ferry/policy/admission"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// denyQuery is the rule the control plane reads; see
// policy/admission/admission.rego.
const denyQuery = "data.ferry.admission.deny"

// builtinDir is where the built-in policy's files live in the repository.
const builtinDir = "policy/admission"

// maxCachedWorkspaces bounds the compiled workspace policies held; past it
// the cache is emptied and refilled on demand.
const maxCachedWorkspaces = 10000

// workspacePackage is the Rego package of a workspace's admission modules.
var workspacePackage = ast.MustParseRef("data.ferry.admission.workspace")

// Module is one Rego v1 module of a workspace's admission policy, as the
// policy store keeps it. It must declare package ferry.admission.workspace;
// its deny messages refuse deployments.
type Module struct {
	// Name is the policy's name; the module's file is
	// "workspace/<name>.rego" in error messages.
	Name string
	// Source is the module's Rego text.
	Source string
}

// Options configure a [Checker].
type Options struct {
	// Config holds the installation's admission settings, given to the
	// policy as data.ferry.admission.config; it must be JSON-compatible.
	// Nil gives every setting its default (policy/admission/admission.rego).
	Config map[string]any
	// WorkspaceModules returns the active admission modules a workspace
	// uploaded, and a version that changes whenever they do. It is called
	// on every check and should answer from memory. Nil, or no modules,
	// evaluates the built-in policy alone; an error refuses the check.
	WorkspaceModules func(ctx context.Context, workspaceID uuid.UUID) ([]Module, string, error)
}

// Checker evaluates the admission policy. It is safe for concurrent use.
type Checker struct {
	opts    Options
	builtin map[string]*ast.Module
	store   storage.Store
	base    rego.PreparedEvalQuery

	mu     sync.Mutex
	spaces map[uuid.UUID]compiled
}

type compiled struct {
	version string
	query   rego.PreparedEvalQuery
}

// New compiles the built-in policy with opts.Config and checks the
// settings: a setting the policy does not know, or of the wrong type, is
// an error here rather than a refusal of every deployment later.
func New(ctx context.Context, opts Options) (*Checker, error) {
	builtin, err := loadBuiltin()
	if err != nil {
		return nil, err
	}
	store, err := newStore(opts.Config)
	if err != nil {
		return nil, err
	}
	base, err := prepare(ctx, builtin, store)
	if err != nil {
		return nil, fmt.Errorf("built-in admission policy: %w", err)
	}
	c := &Checker{opts: opts, builtin: builtin, store: store, base: base, spaces: make(map[uuid.UUID]compiled)}

	// With an empty input only the input rule and the settings' own
	// problems deny.
	denials, err := c.eval(ctx, &base, map[string]any{"spec": map[string]any{}})
	if err != nil {
		return nil, err
	}
	if bad := slices.DeleteFunc(denials, func(d string) bool { return !strings.HasPrefix(d, "config: ") }); len(bad) > 0 {
		return nil, fmt.Errorf("admission settings: %s", strings.Join(bad, "; "))
	}
	return c, nil
}

// Check judges a deployment's spec for a pool of poolType in a workspace
// and returns the sorted denials, each naming its rule ("privileged: ...");
// none means the deployment is admitted. It fails closed: when the policy
// cannot judge the spec it returns an error, and the caller must refuse.
func (c *Checker) Check(
	ctx context.Context,
	workspaceID uuid.UUID,
	deploymentName string,
	spec *ferryv1.DeploymentSpec,
	poolType string,
) ([]string, error) {
	if spec == nil {
		return nil, errors.New("admission: no deployment spec to check")
	}
	pq, err := c.query(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	denials, err := c.eval(ctx, pq, document(workspaceID, deploymentName, spec, poolType))
	if err != nil {
		return nil, err
	}
	return denials, nil
}

// query returns the prepared query for a workspace.
func (c *Checker) query(ctx context.Context, ws uuid.UUID) (*rego.PreparedEvalQuery, error) {
	if c.opts.WorkspaceModules == nil {
		return &c.base, nil
	}
	mods, version, err := c.opts.WorkspaceModules(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("load admission policy of workspace %s: %w", ws, err)
	}
	if len(mods) == 0 {
		return &c.base, nil
	}
	c.mu.Lock()
	cached, ok := c.spaces[ws]
	c.mu.Unlock()
	if ok && cached.version == version {
		return &cached.query, nil
	}

	all, err := withWorkspace(c.builtin, mods)
	if err != nil {
		return nil, fmt.Errorf("admission policy of workspace %s version %s: %w", ws, version, err)
	}
	pq, err := prepare(ctx, all, c.store)
	if err != nil {
		return nil, fmt.Errorf("admission policy of workspace %s version %s: %w", ws, version, err)
	}
	c.mu.Lock()
	if len(c.spaces) >= maxCachedWorkspaces {
		clear(c.spaces)
	}
	c.spaces[ws] = compiled{version: version, query: pq}
	c.mu.Unlock()
	return &pq, nil
}

func (c *Checker) eval(ctx context.Context, pq *rego.PreparedEvalQuery, doc map[string]any) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admission: %w", context.Cause(ctx))
	}
	value, err := ast.InterfaceToValue(doc)
	if err != nil {
		return nil, fmt.Errorf("build admission input: %w", err)
	}
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, fmt.Errorf("evaluate admission policy: %w", err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("admission policy: %s is undefined", denyQuery)
	}
	items, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("admission policy: %s is a %T, not a set of strings", denyQuery, rs[0].Expressions[0].Value)
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("admission policy: %s holds a %T, not a string", denyQuery, item)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// document returns the input the policy judges. It holds secret
// references, never their values, and leaves out the environment, the
// command and the parameters, which no rule reads.
func document(ws uuid.UUID, name string, spec *ferryv1.DeploymentSpec, poolType string) map[string]any {
	c := spec.GetContainer()
	mounts := make([]any, 0, len(c.GetMounts()))
	for _, m := range c.GetMounts() {
		mounts = append(mounts, map[string]any{"source": m.GetSource(), "target": m.GetTarget(), "read_only": m.GetReadOnly()})
	}
	secrets := make(map[string]any, len(spec.GetSecrets()))
	for k, v := range spec.GetSecrets() {
		secrets[k] = v
	}
	tags := make([]any, 0, len(spec.GetTags()))
	for _, t := range spec.GetTags() {
		tags = append(tags, t)
	}
	return map[string]any{
		"workspace":  ws.String(),
		"deployment": name,
		"pool_type":  poolType,
		"spec": map[string]any{
			"image":   spec.GetImage(),
			"tags":    tags,
			"secrets": secrets,
			"container": map[string]any{
				"privileged":   c.GetPrivileged(),
				"milli_cpus":   int64(c.GetMilliCpus()),
				"memory_bytes": c.GetMemoryBytes(),
				"network":      c.GetNetwork(),
				"mounts":       mounts,
			},
		},
	}
}

func prepare(ctx context.Context, modules map[string]*ast.Module, store storage.Store) (rego.PreparedEvalQuery, error) {
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return rego.PreparedEvalQuery{}, fmt.Errorf("compile: %w", compiler.Errors)
	}
	pq, err := rego.New(
		rego.Query(denyQuery),
		rego.Compiler(compiler),
		rego.Store(store),
		// Without strict errors a failing built-in makes its rule undefined,
		// which for a deny rule would admit the deployment.
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("prepare %s: %w", denyQuery, err)
	}
	return pq, nil
}

// newStore holds the settings at data.ferry.admission.config, through JSON
// so that any JSON-compatible Go value becomes a Rego value.
func newStore(settings map[string]any) (storage.Store, error) {
	if settings == nil {
		settings = map[string]any{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("encode admission settings: %w", err)
	}
	var config map[string]any
	if err := util.NewJSONDecoder(bytes.NewReader(raw)).Decode(&config); err != nil {
		return nil, fmt.Errorf("decode admission settings: %w", err)
	}
	return inmem.NewFromObject(map[string]any{"ferry": map[string]any{"admission": map[string]any{"config": config}}}), nil
}

func loadBuiltin() (map[string]*ast.Module, error) {
	fsys := admissionpolicy.FS()
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("list built-in admission policy: %w", err)
	}
	modules := make(map[string]*ast.Module, len(names))
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read built-in admission policy: %w", err)
		}
		file := path.Join(builtinDir, name)
		mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse built-in admission policy: %w", err)
		}
		modules[file] = mod
	}
	return modules, nil
}

// withWorkspace returns the built-in modules plus a workspace's, each of
// which must declare package ferry.admission.workspace.
func withWorkspace(builtin map[string]*ast.Module, mods []Module) (map[string]*ast.Module, error) {
	all := make(map[string]*ast.Module, len(builtin)+len(mods))
	for name, m := range builtin {
		all[name] = m
	}
	for _, m := range mods {
		file := "workspace/" + m.Name + ".rego"
		if _, dup := all[file]; dup || m.Name == "" {
			return nil, fmt.Errorf("workspace policy name %q is empty or given twice", m.Name)
		}
		mod, err := ast.ParseModuleWithOpts(file, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		if mod == nil || !mod.Package.Path.Equal(workspacePackage) {
			return nil, fmt.Errorf("%s must declare package ferry.admission.workspace", file)
		}
		all[file] = mod
	}
	return all, nil
}
