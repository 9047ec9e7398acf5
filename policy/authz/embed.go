// Package authzpolicy holds the control plane's built-in authorization
// policy, Rego package ferry.authz, embedded so that the ferry binary
// carries it. The control plane's authz package evaluates it; this package
// only provides the files.
package authzpolicy

import (
	"embed"
	"io/fs"
)

//go:embed *.rego
var files embed.FS

// FS returns the policy's files at its root: the modules (*.rego) and their
// unit tests (*_test.rego), which an evaluator should leave out.
func FS() fs.FS {
	return files
}
