package api

import (
	"fmt"

	"github.com/ferryhq/ferry/controlplane/internal/jobtemplate"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// checkJobVariables merges pool's template defaults, the deployment's job
// variables and the run's (each JSON text or "") and validates the result
// against the template; it returns the merged variables. The error names
// the offending variable and is safe to show the caller.
func checkJobVariables(pool db.WorkPool, deployment, run string) (string, error) {
	tmpl, err := jobtemplate.Parse(pool.BaseJobTemplate)
	if err != nil {
		return "", fmt.Errorf("base job template of work pool %q: %w", pool.Name, err)
	}
	return tmpl.Resolve(deployment, run)
}
