package policystore

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Kind is the decision a workspace policy takes part in.
type Kind string

const (
	// KindAuthz is authorization: who may call which procedure.
	KindAuthz Kind = "authz"
	// KindAdmission is admission: what a deployment may contain.
	KindAdmission Kind = "admission"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindAuthz || k == KindAdmission }

// Package returns the Rego package every workspace policy of kind k
// declares, such as "ferry.authz.workspace".
func (k Kind) Package() string { return "ferry." + string(k) + ".workspace" }

// DenyRef returns the reference to the workspace deny set of kind k, such
// as "data.ferry.authz.workspace.deny", which the built-in policy consults.
func (k Kind) DenyRef() string { return "data." + k.Package() + ".deny" }

// Module is one Rego module and its Name. For a workspace policy, Name is
// the policy's name and the module's file in positions is
// [ModuleFileName](Name), "workspace/<name>.rego"; for a built-in module,
// Name is its file name.
type Module struct {
	Name   string
	Source string
}

// Limits on what a workspace may upload.
const (
	// MaxSourceBytes caps one policy version's source.
	MaxSourceBytes = 64 << 10
	// MaxActivePolicies caps the active policies of one workspace and kind,
	// so that compiling a workspace's policy stays cheap.
	MaxActivePolicies = 16
	// maxPolicies caps the policies of one workspace, all kinds together.
	maxPolicies = 200
	// maxVersions caps the versions of one policy.
	maxVersions = 1000
	// maxProblems caps the problems reported for one check.
	maxProblems = 20
)

// moduleFilePrefix starts the file name of every workspace module, so that
// none can share a name with a built-in module.
const moduleFilePrefix = "workspace/"

// ModuleFileName returns the file name of the workspace policy called name.
func ModuleFileName(name string) string { return moduleFilePrefix + name + ".rego" }

// Problem is one error in a policy, at a position when one is known.
type Problem struct {
	File   string
	Line   int
	Column int
	// Code is OPA's error code (rego_parse_error, rego_type_error, ...) or
	// [CodePolicy] for Ferry's own restrictions.
	Code    string
	Message string
}

// CodePolicy is the [Problem.Code] of a breach of Ferry's restrictions on
// workspace policies.
const CodePolicy = "ferry_policy_error"

// String renders p as "file:line:col: code: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", p.Code, p.Message)
	return b.String()
}

// CompileError reports a policy that does not parse, breaks a restriction
// or does not compile. Its text is safe to show the policy's author.
type CompileError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// newCompileError converts OPA's errors, keeping at most maxProblems.
func newCompileError(errs ast.Errors) *CompileError {
	out := &CompileError{}
	for _, e := range errs {
		if len(out.Problems) == maxProblems {
			break
		}
		p := Problem{Code: e.Code, Message: e.Message}
		if e.Location != nil {
			p.File, p.Line, p.Column = e.Location.File, e.Location.Row, e.Location.Col
		}
		out.Problems = append(out.Problems, p)
	}
	return out
}

// problemAt returns a [CodePolicy] problem at loc.
func problemAt(file string, loc *ast.Location, format string, args ...any) Problem {
	p := Problem{File: file, Code: CodePolicy, Message: fmt.Sprintf(format, args...)}
	if loc != nil {
		p.Line, p.Column = loc.Row, loc.Col
	}
	return p
}

// forbiddenBuiltin reports whether workspace policies may not call the
// built-in function b: every function that reaches the network (http.send,
// net.lookup_ip_addr) or the runtime (opa.runtime), and every one OPA marks
// as not repeatable (rand.intn, uuid.rfc4122, ...), except time.now_ns. The
// pure net.cidr_* functions stay allowed.
func forbiddenBuiltin(b *ast.Builtin) bool {
	switch b.Name {
	case ast.NowNanos.Name:
		return false
	case ast.HTTPSend.Name, ast.NetLookupIPAddr.Name, ast.OPARuntime.Name:
		return true
	}
	return b.Nondeterministic
}

// Capabilities returns the capabilities workspace policies are compiled
// with: this OPA's built-in functions less the forbidden ones, and no
// network host. Each call returns a new value the caller may keep.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), forbiddenBuiltin)
	caps.AllowNet = []string{}
	return caps
}

// forbiddenNames returns the names of the forbidden built-in functions.
func forbiddenNames() map[string]bool {
	names := make(map[string]bool)
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if forbiddenBuiltin(b) {
			names[b.Name] = true
		}
	}
	return names
}

var forbidden = forbiddenNames()

// Check parses source as the workspace policy called name of kind and
// enforces Ferry's restrictions: size, Rego v1 syntax, package, imports,
// data references, built-in functions, and a deny rule that is a set. It
// returns the parsed module, or a [*CompileError]. Check does not compile
// the module against the built-in policy; [Compile] does.
func Check(kind Kind, name, source string) (*ast.Module, error) {
	file := ModuleFileName(name)
	if len(source) > MaxSourceBytes {
		return nil, &CompileError{Problems: []Problem{{
			File: file, Code: CodePolicy,
			Message: fmt.Sprintf("the source is %d bytes; the limit is %d", len(source), MaxSourceBytes),
		}}}
	}
	mod, err := ast.ParseModuleWithOpts(file, source, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			return nil, newCompileError(errs)
		}
		return nil, &CompileError{Problems: []Problem{{File: file, Code: "rego_parse_error", Message: err.Error()}}}
	}
	if mod == nil {
		return nil, &CompileError{Problems: []Problem{{File: file, Code: "rego_parse_error", Message: "empty module"}}}
	}

	var problems []Problem
	add := func(p Problem) {
		if len(problems) < maxProblems {
			problems = append(problems, p)
		}
	}
	if got := strings.TrimPrefix(mod.Package.Path.String(), "data."); got != kind.Package() {
		add(problemAt(file, mod.Package.Location, "a %s policy must declare package %s, not %s", kind, kind.Package(), got))
	}
	for _, imp := range mod.Imports {
		if !allowedImport(imp) {
			add(problemAt(file, imp.Location, "import %v is not allowed: import only from data.ferry, input or rego.v1", imp.Path))
		}
	}
	for _, r := range mod.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if ref[0].Equal(ast.DefaultRootDocument) && (len(ref) < 2 || !ref[1].Equal(ast.StringTerm("ferry"))) {
				add(problemAt(file, ref[0].Location, "reference %v is not allowed: read only data.ferry and input", ref))
			}
			return false
		})
	}
	checkCall := func(op ast.Ref, loc *ast.Location) {
		if forbidden[op.String()] {
			add(problemAt(file, loc, "%v may not be called from a workspace policy", op))
		}
	}
	ast.WalkExprs(mod, func(e *ast.Expr) bool {
		if e.IsCall() {
			checkCall(e.Operator(), e.Location)
		}
		return false
	})
	ast.WalkTerms(mod, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok && len(c) > 0 {
			if op, ok := c[0].Value.(ast.Ref); ok {
				checkCall(op, t.Location)
			}
		}
		return false
	})
	for _, r := range mod.Rules {
		if r.Head.Name.Equal(ast.Var("deny")) || r.Head.Ref().Equal(ast.Ref{ast.VarTerm("deny")}) {
			if r.Default || r.Head.RuleKind() != ast.MultiValue {
				add(problemAt(file, r.Location, "deny must be a set of messages: write deny contains msg if { ... }"))
			}
		}
	}
	if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}
	return mod, nil
}

// allowedImport reports whether a workspace policy may import imp.
func allowedImport(imp *ast.Import) bool {
	ref, ok := imp.Path.Value.(ast.Ref)
	if !ok || len(ref) == 0 {
		return false
	}
	switch {
	case ref[0].Equal(ast.InputRootDocument):
		return true
	case ref[0].Equal(ast.DefaultRootDocument):
		return len(ref) >= 2 && ref[1].Equal(ast.StringTerm("ferry"))
	case ref.Equal(ast.RegoV1CompatibleRef):
		return true
	case ref[0].Equal(ast.FutureRootDocument):
		return true
	}
	return false
}
