package api

import (
	"context"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// PauseServer implements [ferryv1connect.PauseServiceHandler]. Store, Clock
// and Log are required.
//
// Known limitation: a pool's or queue's paused flag is also a field of
// ApplyWorkPool and ApplyWorkQueue, so applying a pool or queue file again
// sets it to the file's value (resuming a pool paused here).
type PauseServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
}

var _ ferryv1connect.PauseServiceHandler = (*PauseServer)(nil)

// Pause stops the dispatcher from offering the target's runs.
func (s *PauseServer) Pause(ctx context.Context, req *connect.Request[ferryv1.PauseRequest]) (*connect.Response[ferryv1.PauseResponse], error) {
	changed, err := s.set(ctx, req.Msg.GetTarget(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.PauseResponse{Changed: changed}), nil
}

// Resume lets the dispatcher offer the target's runs again.
func (s *PauseServer) Resume(ctx context.Context, req *connect.Request[ferryv1.ResumeRequest]) (*connect.Response[ferryv1.ResumeResponse], error) {
	changed, err := s.set(ctx, req.Msg.GetTarget(), false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.ResumeResponse{Changed: changed}), nil
}

// set pauses or resumes a target and reports whether its state changed. A
// resume wakes the dispatchers, whose runs may go now.
func (s *PauseServer) set(ctx context.Context, t *ferryv1.PauseTarget, paused bool) (bool, error) {
	p, err := principal(ctx)
	if err != nil {
		return false, err
	}
	op := "pause"
	if !paused {
		op = "resume"
	}
	switch {
	case t.GetDeployment() != "" && (t.GetPool() != "" || t.GetQueue() != ""):
		return false, errInvalid("target", "name a deployment, a pool, or a pool and a queue; not several")
	case t.GetDeployment() == "" && t.GetPool() == "":
		return false, errInvalid("target", "name a deployment or a pool")
	}
	var changed bool
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		var err error
		changed, err = s.apply(ctx, q, p, t, paused)
		if err != nil || !changed || paused {
			return err
		}
		return wakeDispatchers(ctx, q)
	})
	if err != nil {
		return false, errInternal(ctx, s.Log, op, err)
	}
	if changed {
		s.Log.InfoContext(ctx, "pause changed", slog.String("workspace_id", p.WorkspaceID.String()),
			slog.String("deployment", t.GetDeployment()), slog.String("pool", t.GetPool()),
			slog.String("queue", t.GetQueue()), slog.Bool("paused", paused))
	}
	return changed, nil
}

func (s *PauseServer) apply(ctx context.Context, q db.Querier, p auth.Principal, t *ferryv1.PauseTarget, paused bool) (bool, error) {
	now := s.Clock.Now()
	if name := t.GetDeployment(); name != "" {
		d, err := lookupDeployment(ctx, q, p.WorkspaceID, name)
		if err != nil {
			return false, err
		}
		before, err := q.DeploymentControlsGet(ctx, d.ID)
		if err != nil && !store.IsNotFound(err) {
			return false, fmt.Errorf("read deployment controls: %w", err)
		}
		if before.Paused == paused {
			return false, nil
		}
		if _, err := q.DeploymentControlsSetPaused(ctx, db.DeploymentControlsSetPausedParams{
			DeploymentID: d.ID, WorkspaceID: p.WorkspaceID, Paused: paused, Now: now,
		}); err != nil {
			return false, fmt.Errorf("set deployment paused: %w", err)
		}
		return true, nil
	}
	pool, err := lookupPool(ctx, q, p.WorkspaceID, t.GetPool())
	if err != nil {
		return false, err
	}
	if t.GetQueue() == "" {
		if pool.Paused == paused {
			return false, nil
		}
		if _, err := q.WorkPoolSetPaused(ctx, db.WorkPoolSetPausedParams{
			WorkspaceID: p.WorkspaceID, ID: pool.ID, Paused: paused, Now: now,
		}); err != nil {
			return false, fmt.Errorf("set pool paused: %w", err)
		}
		return true, nil
	}
	queue, err := q.WorkQueueGetByName(ctx, db.WorkQueueGetByNameParams{PoolID: pool.ID, Name: t.GetQueue()})
	if store.IsNotFound(err) {
		return false, errNotFound("work queue", t.GetPool()+"/"+t.GetQueue())
	}
	if err != nil {
		return false, fmt.Errorf("get work queue: %w", err)
	}
	if queue.Paused == paused {
		return false, nil
	}
	if _, err := q.WorkQueueSetPaused(ctx, db.WorkQueueSetPausedParams{
		WorkspaceID: p.WorkspaceID, ID: queue.ID, Paused: paused, Now: now,
	}); err != nil {
		return false, fmt.Errorf("set queue paused: %w", err)
	}
	return true, nil
}
