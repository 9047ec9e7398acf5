package authz

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	authzpolicy "github.com/ferryhq/ferry/policy/authz"
)

// builtinDir is where the built-in policy's files live in the repository;
// their names in error messages start with it.
const builtinDir = "policy/authz"

// workspacePackage is the Rego package of a workspace's authorization
// modules. The built-in policy adds the messages of its deny set to its
// own, so a workspace can refuse calls and allow none.
var workspacePackage = ast.MustParseRef("data.ferry.authz.workspace")

// workspaceFilePrefix starts the file name of every workspace module, so
// that none can share a name with a built-in module.
const workspaceFilePrefix = "workspace/"

// Module is one Rego v1 module of a workspace's authorization policy, as
// the policy store keeps it. It must declare package
// ferry.authz.workspace; its deny messages refuse calls.
type Module struct {
	// Name is the policy's name; the module's file is
	// "workspace/<name>.rego" in error positions.
	Name string
	// Source is the module's Rego text.
	Source string
}

// CompileError reports what is wrong with a policy's Rego, each problem at
// its position.
type CompileError struct {
	// Problems lists the errors found, in the order the compiler gave them.
	Problems []Problem
}

// Problem is one error in a Rego module.
type Problem struct {
	// File is "workspace/<name>.rego" for a workspace module, or a path
	// under policy/authz for the built-in policy.
	File string
	// Line and Column locate the error, both counting from 1; zero when the
	// compiler gave no position.
	Line   int
	Column int
	// Message says what is wrong, prefixed by OPA's error code.
	Message string
}

// Error returns each problem as file:line:col: message, separated by "; ".
func (e *CompileError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
	}
	return "authorization policy does not compile: " + strings.Join(parts, "; ")
}

func newCompileError(errs ast.Errors) *CompileError {
	ce := &CompileError{Problems: make([]Problem, 0, len(errs))}
	for _, e := range errs {
		p := Problem{Message: e.Code + ": " + e.Message}
		if e.Location != nil {
			p.File, p.Line, p.Column = e.Location.File, e.Location.Row, e.Location.Col
		}
		ce.Problems = append(ce.Problems, p)
	}
	return ce
}

// loadBuiltin parses the built-in policy's modules, leaving its unit tests
// out.
func loadBuiltin() (map[string]*ast.Module, error) {
	fsys := authzpolicy.FS()
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("list built-in authorization policy: %w", err)
	}
	modules := make(map[string]*ast.Module, len(names))
	for _, name := range names {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read built-in authorization policy: %w", err)
		}
		file := path.Join(builtinDir, name)
		if modules[file], err = parseModule(file, src); err != nil {
			return nil, err
		}
	}
	return modules, nil
}

// withWorkspace returns the built-in modules plus a workspace's. A
// workspace module in another package is refused: there it could either
// change no decision or redefine a built-in rule.
func withWorkspace(builtin map[string]*ast.Module, mods []Module) (map[string]*ast.Module, error) {
	all := make(map[string]*ast.Module, len(builtin)+len(mods))
	for name, m := range builtin {
		all[name] = m
	}
	for _, m := range mods {
		file := workspaceFilePrefix + m.Name + ".rego"
		if _, dup := all[file]; dup || m.Name == "" {
			return nil, fmt.Errorf("workspace policy name %q is empty or given twice", m.Name)
		}
		mod, err := parseModule(file, []byte(m.Source))
		if err != nil {
			return nil, err
		}
		if !mod.Package.Path.Equal(workspacePackage) {
			return nil, &CompileError{Problems: []Problem{{
				File:    file,
				Line:    mod.Package.Location.Row,
				Column:  mod.Package.Location.Col,
				Message: fmt.Sprintf("module declares %s; it must declare package ferry.authz.workspace", mod.Package),
			}}}
		}
		all[file] = mod
	}
	return all, nil
}

// parseModule parses Rego v1 source, reporting syntax errors as a
// [*CompileError].
func parseModule(file string, src []byte) (*ast.Module, error) {
	mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		var (
			errs ast.Errors
			one  *ast.Error
		)
		switch {
		case errors.As(err, &errs):
			return nil, newCompileError(errs)
		case errors.As(err, &one):
			return nil, newCompileError(ast.Errors{one})
		}
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if mod == nil {
		return nil, &CompileError{Problems: []Problem{{File: file, Line: 1, Column: 1, Message: "module is empty"}}}
	}
	return mod, nil
}
