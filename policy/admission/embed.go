// Package admissionpolicy holds the control plane's built-in admission
// policy, Rego package ferry.admission, embedded so that the ferry binary
// carries it. The control plane's admission package evaluates it; this package
// only provides the files.
package admissionpolicy

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
