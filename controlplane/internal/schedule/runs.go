package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/params"
	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/schedule/spec"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// deploymentSpec reads the spec of a deployment's current version.
func deploymentSpec(ctx context.Context, q db.Querier, d db.Deployment) (*ferryv1.DeploymentSpec, error) {
	v, err := q.DeploymentVersionGet(ctx, db.DeploymentVersionGetParams{DeploymentID: d.ID, Version: d.CurrentVersion})
	if err != nil {
		return nil, fmt.Errorf("read version %d of deployment %s: %w", d.CurrentVersion, d.Name, err)
	}
	spec, err := store.DecodeDeploymentSpec(v.Spec)
	if err != nil {
		return nil, fmt.Errorf("version %d of deployment %s: %w", d.CurrentVersion, d.Name, err)
	}
	return spec, nil
}

// runParameters merges a schedule's parameters over the deployment's
// defaults and validates the result against the deployment's schema. The
// error is a [*FieldError] on spec.parameters.
func runParameters(dspec *ferryv1.DeploymentSpec, scheduleParams string) (string, error) {
	merged, err := params.Merge(dspec.GetDefaultParameters(), scheduleParams)
	if err != nil {
		return "", &FieldError{Field: "spec.parameters", Reason: err.Error()}
	}
	if schema := dspec.GetParametersSchema(); schema != "" {
		if err := params.Validate(schema, merged); err != nil {
			return "", &FieldError{Field: "spec.parameters", Reason: err.Error()}
		}
	}
	return merged, nil
}

// createRuns creates the runs of schedule s for the given fire times in q's
// transaction, as the scheduler or a backfill by actor. A fire time that
// already has a run gets no second one. It records each new run's creation
// in the state history and wakes the dispatchers of its pool, and returns
// how many runs it created.
func createRuns(
	ctx context.Context,
	q db.Querier,
	s db.Schedule,
	d db.Deployment,
	nominals []time.Time,
	now time.Time,
	actor string,
) (int, error) {
	if len(nominals) == 0 {
		return 0, nil
	}
	dspec, err := deploymentSpec(ctx, q, d)
	if err != nil {
		return 0, err
	}
	merged, err := runParameters(dspec, string(s.Parameters))
	if err != nil {
		return 0, fmt.Errorf("parameters of schedule %s of deployment %s: %w", s.Name, d.Name, err)
	}
	tags, err := json.Marshal(append([]string{}, dspec.GetTags()...))
	if err != nil {
		return 0, fmt.Errorf("encode tags: %w", err)
	}
	retry := dspec.GetRetry()
	in := db.RunInsertScheduledParams{
		WorkspaceID:       s.WorkspaceID,
		DeploymentID:      d.ID,
		DeploymentVersion: d.CurrentVersion,
		PoolID:            d.PoolID,
		QueueID:           d.QueueID,
		MaxAttempts:       1 + retry.GetRetries(),
		Parameters:        merged,
		Priority:          dspec.GetPriority(),
		Tags:              string(tags),
		Now:               now,
		CreatedBy:         actor,
		RetryDelayMs:      retry.GetDelay().AsDuration().Milliseconds(),
		RetryOn:           int32(run.RetryOnOf(retry.GetOn())),
		TimeoutMs:         dspec.GetTimeout().AsDuration().Milliseconds(),
		ScheduleID:        s.ID,
	}
	jitter := time.Duration(s.JitterMs) * time.Millisecond
	for _, t := range nominals {
		in.Ids = append(in.Ids, uuid.Must(uuid.NewV7()))
		in.NominalTimes = append(in.NominalTimes, t)
		in.ExpectedStartTimes = append(in.ExpectedStartTimes, t.Add(spec.Jitter(t, s.ID.String(), jitter)))
	}

	inserted, err := q.RunInsertScheduled(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("insert runs of schedule %s: %w", s.Name, err)
	}
	if len(inserted) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, len(inserted))
	for i, r := range inserted {
		ids[i] = r.ID
	}
	if err := q.RunStateChangeInsertCreated(ctx, db.RunStateChangeInsertCreatedParams{
		WorkspaceID: s.WorkspaceID, Actor: actor, Now: now, RunIds: ids,
	}); err != nil {
		return 0, fmt.Errorf("record creation of runs of schedule %s: %w", s.Name, err)
	}
	if err := transition.Notify(ctx, q, transition.ChannelDispatch, []uuid.UUID{d.PoolID}); err != nil {
		return 0, err
	}
	return len(inserted), nil
}

// cancelFuture cancels the runs of schedule s still waiting to start whose
// fire time is after now, and unlinks them from the schedule so those fire
// times may get a run again if the schedule comes back. It returns how many
// runs it cancelled.
func cancelFuture(
	ctx context.Context,
	q db.Querier,
	applier *transition.Applier,
	s db.Schedule,
	now time.Time,
	actor, reason string,
) (int, error) {
	ids, err := q.RunListScheduledAfter(ctx, db.RunListScheduledAfterParams{ScheduleID: s.ID, After: now})
	if err != nil {
		return 0, fmt.Errorf("list future runs of schedule %s: %w", s.Name, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	reqs := make([]transition.Request, len(ids))
	for i, id := range ids {
		reqs[i] = transition.Request{RunID: id, Event: run.CancelRequested{Actor: actor, Reason: reason}}
	}
	outcomes, err := applier.Apply(ctx, q, now, reqs, nil)
	if err != nil {
		return 0, fmt.Errorf("cancel future runs of schedule %s: %w", s.Name, err)
	}
	cancelled := make([]uuid.UUID, 0, len(outcomes))
	for _, o := range outcomes {
		if o.Err == nil && o.Row.State == string(run.StateCancelled) {
			cancelled = append(cancelled, o.Row.ID)
		}
	}
	if err := q.RunDetachSchedule(ctx, cancelled); err != nil {
		return 0, fmt.Errorf("unlink cancelled runs of schedule %s: %w", s.Name, err)
	}
	return len(cancelled), nil
}
