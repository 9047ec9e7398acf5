// Package agentpolicy holds the agent's built-in local policy, Rego package
// ferry.agent, embedded so that ferry-agent carries it. The agent's policy
// package evaluates it; this package only provides the files.
package agentpolicy

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
