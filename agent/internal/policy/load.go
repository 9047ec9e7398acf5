package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	agentpolicy "github.com/ferryhq/ferry/policy/agent"
)

// builtinDir is where the built-in policy's files live in the repository;
// their names in error messages start with it.
const builtinDir = "policy/agent"

// packagePath is the Rego package of the agent policy.
var packagePath = ast.MustParseRef("data.ferry.agent")

// CompileError reports what is wrong with the policy's Rego, each problem
// at its position, so that an operator can fix a customer file.
type CompileError struct {
	// Problems lists the errors found, in the order the compiler gave them.
	Problems []Problem
}

// Problem is one error in a Rego file.
type Problem struct {
	// File is the path of the file, as given in [Config], or under
	// policy/agent for the built-in policy.
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
	return "policy does not compile: " + strings.Join(parts, "; ")
}

// newCompileError converts OPA's errors, which name a file and line but
// leave the column out of their text.
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

// loadModules parses the modules cfg selects: the built-in policy or the
// files of cfg.ReplaceDir, then cfg.ExtraFiles. Test files (*_test.rego)
// of the built-in policy and of ReplaceDir are left out.
func loadModules(cfg Config) (map[string]*ast.Module, error) {
	var (
		modules map[string]*ast.Module
		err     error
	)
	if cfg.ReplaceDir != "" {
		modules, err = loadReplacement(cfg.ReplaceDir)
	} else {
		modules, err = loadBuiltin()
	}
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.ExtraFiles {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read policy extension: %w", err)
		}
		mod, err := parseModule(name, src)
		if err != nil {
			return nil, err
		}
		// An extension in another package would add no deny rule and so
		// silently check nothing.
		if !mod.Package.Path.Equal(packagePath) {
			return nil, &CompileError{Problems: []Problem{{
				File:    name,
				Line:    mod.Package.Location.Row,
				Column:  mod.Package.Location.Col,
				Message: fmt.Sprintf("policy extension declares %s; it must declare package ferry.agent", mod.Package),
			}}}
		}
		if _, dup := modules[name]; dup {
			return nil, fmt.Errorf("policy extension %s is given twice", name)
		}
		modules[name] = mod
	}
	return modules, nil
}

func loadBuiltin() (map[string]*ast.Module, error) {
	fsys := agentpolicy.FS()
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, fmt.Errorf("list built-in policy: %w", err)
	}
	modules := make(map[string]*ast.Module, len(names))
	for _, name := range names {
		if isTestFile(name) {
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read built-in policy: %w", err)
		}
		file := path.Join(builtinDir, name)
		if modules[file], err = parseModule(file, src); err != nil {
			return nil, err
		}
	}
	return modules, nil
}

func loadReplacement(dir string) (map[string]*ast.Module, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read replacement policy directory: %w", err)
	}
	modules := make(map[string]*ast.Module)
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".rego" || isTestFile(e.Name()) {
			continue
		}
		file := filepath.Join(dir, e.Name())
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read replacement policy: %w", err)
		}
		if modules[file], err = parseModule(file, src); err != nil {
			return nil, err
		}
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("replacement policy directory %s holds no .rego file", dir)
	}
	return modules, nil
}

func isTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.rego")
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
	return mod, nil
}
