package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/admission"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const (
	// defaultDeploymentPageSize is the page size of ListDeployments when the
	// request sets none: a screenful.
	defaultDeploymentPageSize = 50
	// maxDeploymentPageSize bounds one page of ListDeployments, matching the
	// request's field rule.
	maxDeploymentPageSize = 1000
)

// DeploymentServer implements [ferryv1connect.DeploymentServiceHandler].
// Store, Clock and Log are required.
type DeploymentServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// Admission, when set, judges every applied spec; a spec it denies is
	// refused with PermissionDenied naming the rules. Nil admits every spec.
	Admission *admission.Checker
}

var _ ferryv1connect.DeploymentServiceHandler = (*DeploymentServer)(nil)

// ApplyDeployment creates a deployment at version 1 or, when its spec
// differs from the current version's, records the next version. Applying an
// unchanged spec writes nothing and answers changed=false.
func (s *DeploymentServer) ApplyDeployment(
	ctx context.Context,
	req *connect.Request[ferryv1.ApplyDeploymentRequest],
) (*connect.Response[ferryv1.ApplyDeploymentResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()
	spec := normalizeSpec(req.Msg.GetSpec())
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	sv, err := newSpecVersion(spec)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "apply deployment", err)
	}

	var (
		d      db.Deployment
		paused bool
	)
	changed := false
	apply := func(q db.Querier) error {
		var err error
		d, changed, err = s.apply(ctx, q, p, name, sv)
		if err != nil {
			return err
		}
		if err := syncDeploymentLimits(ctx, q, d, sv.spec, s.Clock.Now()); err != nil {
			return err
		}
		paused, err = deploymentPaused(ctx, q, d.ID)
		return err
	}
	err = s.Store.Tx(ctx, apply)
	if store.IsUniqueViolation(err) {
		// A concurrent apply created the deployment after this one found
		// none; its row is committed now, so this apply becomes an update.
		err = s.Store.Tx(ctx, apply)
	}
	if err != nil {
		return nil, errInternal(ctx, s.Log, "apply deployment", err)
	}

	if changed {
		s.Log.InfoContext(ctx, "deployment applied",
			slog.String("workspace_id", p.WorkspaceID.String()),
			slog.String("deployment_id", d.ID.String()),
			slog.String("deployment", d.Name),
			slog.Int("version", int(d.CurrentVersion)))
	}
	return connect.NewResponse(&ferryv1.ApplyDeploymentResponse{
		Deployment: deploymentToProto(d, spec, paused),
		Changed:    changed,
	}), nil
}

// admit asks the admission policy about a spec for a pool of poolType. A
// denial is PermissionDenied rather than InvalidArgument: the spec is well
// formed, but the workspace may not run it, and the caller can act only by
// changing the spec or asking for the policy to change. The message names
// every rule that denied.
func (s *DeploymentServer) admit(
	ctx context.Context,
	workspaceID uuid.UUID,
	name string,
	spec *ferryv1.DeploymentSpec,
	poolType string,
) error {
	if s.Admission == nil {
		return nil
	}
	denials, err := s.Admission.Check(ctx, workspaceID, name, spec, poolType)
	if err != nil {
		return fmt.Errorf("admission check: %w", err)
	}
	if len(denials) > 0 {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf(
			"deployment %q is denied by the admission policy: %s", name, strings.Join(denials, "; ")))
	}
	return nil
}

// apply writes one apply of deployment name with spec sv inside a
// transaction and reports whether a version was recorded. Inserting a new
// deployment fails with a unique violation when another apply inserted it
// concurrently.
func (s *DeploymentServer) apply(
	ctx context.Context,
	q db.Querier,
	p auth.Principal,
	name string,
	sv specVersion,
) (db.Deployment, bool, error) {
	poolName, queueName := sv.spec.GetPool(), sv.spec.GetQueue()
	pool, err := q.WorkPoolGetByName(ctx, db.WorkPoolGetByNameParams{WorkspaceID: p.WorkspaceID, Name: poolName})
	if store.IsNotFound(err) {
		return db.Deployment{}, false, connect.NewError(connect.CodeNotFound, fmt.Errorf(
			"work pool %q not found; create it first with `ferry apply` of a work pool", poolName))
	}
	if err != nil {
		return db.Deployment{}, false, fmt.Errorf("get work pool: %w", err)
	}
	if err := checkSpecForPool(sv.spec, pool); err != nil {
		return db.Deployment{}, false, err
	}
	tmpl, vars, err := checkJobVariables(pool, sv.spec.GetJobVariables(), "")
	if err != nil {
		return db.Deployment{}, false, errInvalid("spec.job_variables", "%v", err)
	}
	// The admission policy judges the spec as the pool's and the
	// deployment's job variables change it.
	admitted, err := tmpl.Effective(sv.spec, vars)
	if err != nil {
		return db.Deployment{}, false, errInvalid("spec.job_variables", "%v", err)
	}
	if err := s.admit(ctx, p.WorkspaceID, name, admitted, pool.Type); err != nil {
		return db.Deployment{}, false, err
	}
	queue, err := q.WorkQueueGetByName(ctx, db.WorkQueueGetByNameParams{PoolID: pool.ID, Name: queueName})
	if store.IsNotFound(err) {
		return db.Deployment{}, false, connect.NewError(connect.CodeNotFound, fmt.Errorf(
			"work queue %q not found in work pool %q; create it first with `ferry apply` of a work queue",
			queueName, poolName))
	}
	if err != nil {
		return db.Deployment{}, false, fmt.Errorf("get work queue: %w", err)
	}
	now := s.Clock.Now()

	d, err := q.DeploymentLockByName(ctx, db.DeploymentLockByNameParams{
		WorkspaceID: p.WorkspaceID,
		Name:        name,
	})
	if store.IsNotFound(err) {
		d, err = q.DeploymentInsert(ctx, db.DeploymentInsertParams{
			ID:          uuid.New(),
			WorkspaceID: p.WorkspaceID,
			Name:        name,
			PoolID:      pool.ID,
			QueueID:     queue.ID,
			Now:         now,
		})
		if err != nil {
			return db.Deployment{}, false, fmt.Errorf("insert deployment: %w", err)
		}
		if err := insertVersion(ctx, q, d.ID, d.CurrentVersion, sv, p.Subject, now); err != nil {
			return db.Deployment{}, false, err
		}
		return d, true, nil
	}
	if err != nil {
		return db.Deployment{}, false, fmt.Errorf("lock deployment: %w", err)
	}

	current, err := q.DeploymentVersionGet(ctx, db.DeploymentVersionGetParams{
		DeploymentID: d.ID,
		Version:      d.CurrentVersion,
	})
	if err != nil {
		return db.Deployment{}, false, fmt.Errorf("get current deployment version: %w", err)
	}
	if current.SpecHash == sv.hash {
		return d, false, nil
	}
	version := d.CurrentVersion + 1
	if err := insertVersion(ctx, q, d.ID, version, sv, p.Subject, now); err != nil {
		return db.Deployment{}, false, err
	}
	d, err = q.DeploymentSetVersion(ctx, db.DeploymentSetVersionParams{
		ID:      d.ID,
		Version: version,
		PoolID:  pool.ID,
		QueueID: queue.ID,
		Now:     now,
	})
	if err != nil {
		return db.Deployment{}, false, fmt.Errorf("set deployment version: %w", err)
	}
	return d, true, nil
}

// GetDeployment returns a deployment of the caller's workspace with the spec
// of its current version.
func (s *DeploymentServer) GetDeployment(
	ctx context.Context,
	req *connect.Request[ferryv1.GetDeploymentRequest],
) (*connect.Response[ferryv1.GetDeploymentResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	d, err := lookupDeployment(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetName())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get deployment", err)
	}
	// Versions are immutable, so reading the current one outside the
	// deployment's transaction cannot see a half-written spec.
	v, err := s.Store.Q.DeploymentVersionGet(ctx, db.DeploymentVersionGetParams{
		DeploymentID: d.ID,
		Version:      d.CurrentVersion,
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get deployment", fmt.Errorf("get deployment version: %w", err))
	}
	spec, err := store.DecodeDeploymentSpec(v.Spec)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get deployment", err)
	}
	paused, err := deploymentPaused(ctx, s.Store.Q, d.ID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get deployment", err)
	}
	return connect.NewResponse(&ferryv1.GetDeploymentResponse{Deployment: deploymentToProto(d, spec, paused)}), nil
}

// deploymentPaused reports whether PauseService paused a deployment; one
// that was never paused or resumed has no controls row and is not paused.
func deploymentPaused(ctx context.Context, q db.Querier, id uuid.UUID) (bool, error) {
	c, err := q.DeploymentControlsGet(ctx, id)
	if store.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read deployment controls: %w", err)
	}
	return c.Paused, nil
}

// ListDeployments returns a page of the caller's deployments ordered by name,
// optionally only those of one pool.
func (s *DeploymentServer) ListDeployments(
	ctx context.Context,
	req *connect.Request[ferryv1.ListDeploymentsRequest],
) (*connect.Response[ferryv1.ListDeploymentsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	size := int(m.GetPageSize())
	if size <= 0 {
		size = defaultDeploymentPageSize
	}
	size = min(size, maxDeploymentPageSize)
	after, err := decodeDeploymentPageToken(m.GetPageToken())
	if err != nil {
		return nil, err
	}
	var poolID uuid.NullUUID
	if m.GetPool() != "" {
		pool, err := lookupPool(ctx, s.Store.Q, p.WorkspaceID, m.GetPool())
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list deployments", err)
		}
		poolID = uuid.NullUUID{UUID: pool.ID, Valid: true}
	}

	// One row more than the page tells whether another page follows.
	rows, err := s.Store.Q.DeploymentListByName(ctx, db.DeploymentListByNameParams{
		WorkspaceID: p.WorkspaceID,
		AfterName:   after,
		PoolID:      poolID,
		PageLimit:   int32(size + 1),
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list deployments", fmt.Errorf("list deployments: %w", err))
	}
	resp := &ferryv1.ListDeploymentsResponse{}
	if len(rows) > size {
		rows = rows[:size]
		resp.NextPageToken = encodeDeploymentPageToken(rows[size-1].Deployment.Name)
	}
	resp.Deployments = make([]*ferryv1.Deployment, 0, len(rows))
	for _, row := range rows {
		spec, err := store.DecodeDeploymentSpec(row.Spec)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list deployments", err)
		}
		resp.Deployments = append(resp.Deployments, deploymentToProto(row.Deployment, spec, row.Paused))
	}
	return connect.NewResponse(resp), nil
}

// DeleteDeployment soft-deletes a deployment, which frees its name. It is
// refused while the deployment has runs that are not finished.
func (s *DeploymentServer) DeleteDeployment(
	ctx context.Context,
	req *connect.Request[ferryv1.DeleteDeploymentRequest],
) (*connect.Response[ferryv1.DeleteDeploymentResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()

	var d db.Deployment
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		var err error
		d, err = q.DeploymentLockByName(ctx, db.DeploymentLockByNameParams{
			WorkspaceID: p.WorkspaceID,
			Name:        name,
		})
		if store.IsNotFound(err) {
			return errNotFound("deployment", name)
		}
		if err != nil {
			return fmt.Errorf("lock deployment: %w", err)
		}
		active, err := q.DeploymentActiveRunCount(ctx, d.ID)
		if err != nil {
			return fmt.Errorf("count active runs: %w", err)
		}
		if active > 0 {
			return errPrecondition("deployment %q has %d active runs; "+
				"cancel them or wait for them to finish", name, active)
		}
		err = q.DeploymentSoftDelete(ctx, db.DeploymentSoftDeleteParams{ID: d.ID, Now: s.Clock.Now()})
		if err != nil {
			return fmt.Errorf("delete deployment: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "delete deployment", err)
	}

	s.Log.InfoContext(ctx, "deployment deleted",
		slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("deployment_id", d.ID.String()),
		slog.String("deployment", name))
	return connect.NewResponse(&ferryv1.DeleteDeploymentResponse{}), nil
}

// ListDeploymentVersions returns every version of a deployment, newest
// first.
func (s *DeploymentServer) ListDeploymentVersions(
	ctx context.Context,
	req *connect.Request[ferryv1.ListDeploymentVersionsRequest],
) (*connect.Response[ferryv1.ListDeploymentVersionsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	d, err := lookupDeployment(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetName())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list deployment versions", err)
	}
	versions, err := s.Store.Q.DeploymentVersionList(ctx, d.ID)
	if err != nil {
		err = fmt.Errorf("list deployment versions: %w", err)
		return nil, errInternal(ctx, s.Log, "list deployment versions", err)
	}
	resp := &ferryv1.ListDeploymentVersionsResponse{
		Versions: make([]*ferryv1.DeploymentVersion, 0, len(versions)),
	}
	for _, v := range versions {
		pv, err := deploymentVersionToProto(v)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list deployment versions", err)
		}
		resp.Versions = append(resp.Versions, pv)
	}
	return connect.NewResponse(resp), nil
}

// lookupDeployment returns the live deployment of the workspace with the
// given name, or a NotFound error; a deployment of another workspace is not
// found either.
func lookupDeployment(
	ctx context.Context,
	q db.Querier,
	workspaceID uuid.UUID,
	name string,
) (db.Deployment, error) {
	d, err := q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: workspaceID, Name: name})
	if store.IsNotFound(err) {
		return db.Deployment{}, errNotFound("deployment", name)
	}
	if err != nil {
		return db.Deployment{}, fmt.Errorf("get deployment %s: %w", name, err)
	}
	return d, nil
}

// insertVersion records version of deployment id with spec sv.
func insertVersion(
	ctx context.Context,
	q db.Querier,
	id uuid.UUID,
	version int32,
	sv specVersion,
	createdBy string,
	now time.Time,
) error {
	err := q.DeploymentVersionInsert(ctx, db.DeploymentVersionInsertParams{
		DeploymentID: id,
		Version:      version,
		Spec:         sv.json,
		SpecHash:     sv.hash,
		CreatedBy:    createdBy,
		Now:          now,
	})
	if err != nil {
		return fmt.Errorf("insert deployment version %d: %w", version, err)
	}
	return nil
}
