package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
)

// ActorConcurrencyLimit is the actor of the cancels a deployment's
// collision strategy makes.
const ActorConcurrencyLimit = "system:concurrency-limit"

// The collision strategies as stored in deployment_controls.
const (
	// StrategyEnqueue keeps a run that finds its deployment full waiting.
	StrategyEnqueue = "enqueue"
	// StrategyCancelNew cancels the runs that find their deployment full.
	StrategyCancelNew = "cancel_new"
	// StrategyCancelOldest cancels the oldest active runs to make room.
	StrategyCancelOldest = "cancel_oldest"
)

// collisionRun is an active or waiting run of a deployment.
type collisionRun struct {
	id      uuid.UUID
	state   string
	waiting bool
}

// collide returns the runs a deployment's strategy cancels. runs lists the
// waiting (due, unoffered) runs in dispatch order, then the active ones
// oldest first.
//
// cancel_new keeps as many waiting runs as there are free slots and cancels
// the rest. cancel_oldest keeps the newest waiting runs that fit the limit
// and cancels enough of the oldest active runs that, once every cancelling
// run has stopped, the kept ones fit beside the remaining active runs; a run
// already cancelling counts as gone, so repeating the decision while the
// cancels take effect cancels nothing more.
func collide(strategy string, limit int, runs []collisionRun) []uuid.UUID {
	var waiting, active, live []uuid.UUID
	for _, r := range runs {
		switch {
		case r.waiting:
			waiting = append(waiting, r.id)
		default:
			active = append(active, r.id)
			if r.state != string(run.StateCancelling) {
				live = append(live, r.id)
			}
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	switch strategy {
	case StrategyCancelNew:
		free := max(0, limit-len(active))
		if free >= len(waiting) {
			return nil
		}
		return waiting[free:]
	case StrategyCancelOldest:
		var cancel []uuid.UUID
		if len(waiting) > limit {
			cancel = append(cancel, waiting[:len(waiting)-limit]...)
			waiting = waiting[len(waiting)-limit:]
		}
		k := min(len(live), max(0, len(live)+len(waiting)-limit))
		return append(cancel, live[:k]...)
	}
	return nil
}

// ResolveCollisions applies the collision strategies of the deployments
// with due, unoffered runs in a pool: under the lock of each deployment's
// limit row, it cancels the new runs (cancel_new) or the oldest active runs
// (cancel_oldest) that the limit has no room for, recording each cancel
// with actor [ActorConcurrencyLimit]. Run it in a transaction. It returns
// the number of runs it asked to cancel.
func ResolveCollisions(
	ctx context.Context,
	q db.Querier,
	a *transition.Applier,
	workspaceID, poolID uuid.UUID,
	now time.Time,
) (int, error) {
	deps, err := q.LimitCollisionDeployments(ctx, db.LimitCollisionDeploymentsParams{
		WorkspaceID: workspaceID, PoolID: poolID, Now: now,
	})
	if err != nil {
		return 0, fmt.Errorf("lock deployments that cancel on collision: %w", err)
	}
	if len(deps) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, len(deps))
	for i, d := range deps {
		ids[i] = d.DeploymentID
	}
	rows, err := q.LimitCollisionRuns(ctx, db.LimitCollisionRunsParams{Now: now, DeploymentIds: ids})
	if err != nil {
		return 0, fmt.Errorf("read runs of colliding deployments: %w", err)
	}
	byDeployment := make(map[uuid.UUID][]collisionRun)
	for _, r := range rows {
		byDeployment[r.DeploymentID] = append(byDeployment[r.DeploymentID],
			collisionRun{id: r.ID, state: r.State, waiting: r.Waiting})
	}
	var reqs []transition.Request
	for _, d := range deps {
		reason := fmt.Sprintf("deployment concurrency limit of %d is full; collision strategy %s",
			d.ConcurrencyLimit, d.CollisionStrategy)
		for _, id := range collide(d.CollisionStrategy, int(d.ConcurrencyLimit), byDeployment[d.DeploymentID]) {
			reqs = append(reqs, transition.Request{
				RunID: id, Event: run.CancelRequested{Actor: ActorConcurrencyLimit, Reason: reason},
			})
		}
	}
	if len(reqs) == 0 {
		return 0, nil
	}
	if _, err := a.Apply(ctx, q, now, reqs, nil); err != nil {
		return 0, fmt.Errorf("cancel colliding runs: %w", err)
	}
	return len(reqs), nil
}
