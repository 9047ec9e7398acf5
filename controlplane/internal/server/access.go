package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/admission"
	"github.com/ferryhq/ferry/controlplane/internal/authz"
	"github.com/ferryhq/ferry/controlplane/internal/dispatch"
	"github.com/ferryhq/ferry/controlplane/internal/policystore"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	admissionpolicy "github.com/ferryhq/ferry/policy/admission"
	authzpolicy "github.com/ferryhq/ferry/policy/authz"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// accessControl holds the policy side of the control plane: workspace
// policies, the authorizer every call passes, and the admission checker
// deployments pass.
type accessControl struct {
	policies  *policystore.Store
	authz     *authz.Authorizer
	admission *admission.Checker
}

func newAccessControl(ctx context.Context, cfg Config, st *store.Store, clk clock.Clock, log *slog.Logger) (*accessControl, error) {
	authzBuiltin, err := policystore.BuiltinFromFS(policystore.KindAuthz, authzpolicy.FS(), "data.ferry.authz.deny")
	if err != nil {
		return nil, fmt.Errorf("built-in authorization policy: %w", err)
	}
	authzBuiltin.AllowQuery = "data.ferry.authz.allow"
	admissionBuiltin, err := policystore.BuiltinFromFS(policystore.KindAdmission, admissionpolicy.FS(), "data.ferry.admission.deny")
	if err != nil {
		return nil, fmt.Errorf("built-in admission policy: %w", err)
	}
	if cfg.Admission != nil {
		admissionBuiltin.Data = map[string]any{"ferry": map[string]any{"admission": map[string]any{"config": cfg.Admission}}}
	}
	policies := policystore.New(st, clk, func(k policystore.Kind) (policystore.Builtin, error) {
		if k == policystore.KindAuthz {
			return authzBuiltin, nil
		}
		return admissionBuiltin, nil
	})

	authzMods := policies.WorkspaceModules(policystore.KindAuthz)
	authorizer, err := authz.New(ctx, authz.Options{
		WorkspaceModules: func(ctx context.Context, ws uuid.UUID) ([]authz.Module, string, error) {
			mods, version, err := authzMods(ctx, ws)
			out := make([]authz.Module, len(mods))
			for i, m := range mods {
				out[i] = authz.Module(m)
			}
			return out, version, err
		},
		Clock: clk,
		Log:   log.With(slog.String("component", "authz")),
	})
	if err != nil {
		return nil, fmt.Errorf("authorization policy: %w", err)
	}
	admissionMods := policies.WorkspaceModules(policystore.KindAdmission)
	checker, err := admission.New(ctx, admission.Options{
		Config: cfg.Admission,
		WorkspaceModules: func(ctx context.Context, ws uuid.UUID) ([]admission.Module, string, error) {
			mods, version, err := admissionMods(ctx, ws)
			out := make([]admission.Module, len(mods))
			for i, m := range mods {
				out[i] = admission.Module(m)
			}
			return out, version, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("admission policy: %w", err)
	}
	return &accessControl{policies: policies, authz: authorizer, admission: checker}, nil
}

// admitRun is the dispatcher's admission check ([dispatch.Config.Admit]):
// the workspace's admission policy judges a run's deployment version again
// just before its order goes out, since the settings or the workspace's
// policy may have changed since the deployment was applied. A denial names
// every rule that denied.
func (a *accessControl) admitRun(
	ctx context.Context,
	r db.Run,
	deployment string,
	spec *ferryv1.DeploymentSpec,
	poolType string,
) error {
	denials, err := a.admission.Check(ctx, r.WorkspaceID, deployment, spec, poolType)
	if err != nil {
		return fmt.Errorf("admission check of run %s: %w", r.ID, err)
	}
	if len(denials) > 0 {
		return dispatch.NotAdmitted(fmt.Sprintf("deployment %q is denied by the admission policy: %s",
			deployment, strings.Join(denials, "; ")))
	}
	return nil
}
