package api

import (
	"fmt"

	"github.com/ferryhq/ferry/controlplane/internal/jobtemplate"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// checkJobVariables merges pool's template defaults, the deployment's job
// variables and the run's (each JSON text or "") and validates the result
// against the template and the rules of the pool's type; it returns the
// template and the merged variables. The error names the offending
// variable and is safe to show the caller.
func checkJobVariables(pool db.WorkPool, deployment, run string) (jobtemplate.Template, string, error) {
	tmpl, err := jobtemplate.ParsePool(pool.Type, pool.BaseJobTemplate)
	if err != nil {
		return jobtemplate.Template{}, "", fmt.Errorf("base job template of work pool %q: %w", pool.Name, err)
	}
	merged, err := tmpl.Resolve(deployment, run)
	if err != nil {
		return jobtemplate.Template{}, "", err
	}
	return tmpl, merged, nil
}
