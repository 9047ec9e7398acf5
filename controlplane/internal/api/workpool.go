package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferryhq/ferry/controlplane/internal/jobtemplate"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// defaultHeartbeatInterval is how often agents heartbeat when
// [WorkPoolServer.HeartbeatInterval] is not set; it matches the agent's
// default.
const defaultHeartbeatInterval = 10 * time.Second

// missedHeartbeats is how many heartbeat intervals may pass without one before
// an agent is shown offline: one late heartbeat is not an outage.
const missedHeartbeats = 3

// defaultQueue is the queue every pool is created with and the queue a
// deployment uses when it names none.
const defaultQueue = "default"

// WorkPoolServer implements [ferryv1connect.WorkPoolServiceHandler]. Store,
// Clock and Log are required.
type WorkPoolServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// HeartbeatInterval is how often agents heartbeat; an agent that has not
	// for three intervals is listed offline. Zero means 10s.
	HeartbeatInterval time.Duration
}

var _ ferryv1connect.WorkPoolServiceHandler = (*WorkPoolServer)(nil)

// ApplyWorkPool creates a work pool with its "default" queue, or updates an
// existing pool's description, paused flag and limit. A pool's type never
// changes.
func (s *WorkPoolServer) ApplyWorkPool(
	ctx context.Context,
	req *connect.Request[ferryv1.ApplyWorkPoolRequest],
) (*connect.Response[ferryv1.ApplyWorkPoolResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	poolType, ok := poolTypeToDB(m.GetType())
	if !ok {
		return nil, errInvalid("type", "unknown work pool type %v", m.GetType())
	}
	// On ecs pools this also rejects contradictory ecs task settings in the
	// defaults; settings the defaults leave out come from the agents.
	if _, err := jobtemplate.ParsePool(poolType, m.GetBaseJobTemplate()); err != nil {
		return nil, errInvalid("base_job_template", "%v", err)
	}

	var pool db.WorkPool
	created := false
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		now := s.Clock.Now()
		id := uuid.New()
		// The upsert settles two concurrent applies of a new pool: one
		// inserts, the other waits for it and updates.
		var err error
		pool, err = q.WorkPoolUpsert(ctx, db.WorkPoolUpsertParams{
			ID:               id,
			WorkspaceID:      p.WorkspaceID,
			Name:             m.GetName(),
			Type:             poolType,
			Description:      m.GetDescription(),
			Paused:           m.GetPaused(),
			ConcurrencyLimit: m.GetConcurrencyLimit(),
			Now:              now,
		})
		if err != nil {
			return fmt.Errorf("upsert work pool: %w", err)
		}
		if pool.Type != poolType {
			return errPrecondition("work pool %q is of type %s; its type cannot change, create a new pool",
				pool.Name, pool.Type)
		}
		created = pool.ID == id
		pool, err = q.WorkPoolSetJobTemplate(ctx, db.WorkPoolSetJobTemplateParams{
			ID: pool.ID, BaseJobTemplate: m.GetBaseJobTemplate(), Now: now,
		})
		if err != nil {
			return fmt.Errorf("set base job template: %w", err)
		}
		if !created {
			return nil
		}
		_, err = q.WorkQueueEnsure(ctx, db.WorkQueueEnsureParams{
			ID:          uuid.New(),
			WorkspaceID: p.WorkspaceID,
			PoolID:      pool.ID,
			Name:        defaultQueue,
			Now:         now,
		})
		if err != nil {
			return fmt.Errorf("create default queue: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "apply work pool", err)
	}

	if created {
		s.Log.InfoContext(ctx, "work pool created",
			slog.String("workspace_id", p.WorkspaceID.String()),
			slog.String("pool", pool.Name),
			slog.String("type", pool.Type))
	}
	return connect.NewResponse(&ferryv1.ApplyWorkPoolResponse{
		WorkPool: workPoolToProto(pool),
		Created:  created,
	}), nil
}

// GetWorkPool returns one work pool of the caller's workspace.
func (s *WorkPoolServer) GetWorkPool(
	ctx context.Context,
	req *connect.Request[ferryv1.GetWorkPoolRequest],
) (*connect.Response[ferryv1.GetWorkPoolResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := lookupPool(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetName())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get work pool", err)
	}
	return connect.NewResponse(&ferryv1.GetWorkPoolResponse{WorkPool: workPoolToProto(pool)}), nil
}

// ListWorkPools returns every work pool of the caller's workspace by name.
func (s *WorkPoolServer) ListWorkPools(
	ctx context.Context,
	_ *connect.Request[ferryv1.ListWorkPoolsRequest],
) (*connect.Response[ferryv1.ListWorkPoolsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pools, err := s.Store.Q.WorkPoolList(ctx, p.WorkspaceID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list work pools", fmt.Errorf("list work pools: %w", err))
	}
	resp := &ferryv1.ListWorkPoolsResponse{WorkPools: make([]*ferryv1.WorkPool, 0, len(pools))}
	for _, pool := range pools {
		resp.WorkPools = append(resp.WorkPools, workPoolToProto(pool))
	}
	return connect.NewResponse(resp), nil
}

// DeleteWorkPool deletes a work pool with its queues, agents and agent
// tokens. It is refused while a deployment uses the pool or any run, even a
// finished one, refers to it.
func (s *WorkPoolServer) DeleteWorkPool(
	ctx context.Context,
	req *connect.Request[ferryv1.DeleteWorkPoolRequest],
) (*connect.Response[ferryv1.DeleteWorkPoolResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()

	err = s.Store.Tx(ctx, func(q db.Querier) error {
		pool, err := lookupPool(ctx, q, p.WorkspaceID, name)
		if err != nil {
			return err
		}
		deployments, err := q.WorkPoolDeploymentCount(ctx, pool.ID)
		if err != nil {
			return fmt.Errorf("count deployments of pool: %w", err)
		}
		if deployments > 0 {
			return errPrecondition("work pool %q is used by %d deployments; "+
				"delete them or move them to another pool first", name, deployments)
		}
		runs, err := q.WorkPoolRunCount(ctx, pool.ID)
		if err != nil {
			return fmt.Errorf("count runs of pool: %w", err)
		}
		if runs > 0 {
			return errPrecondition("work pool %q is referenced by %d runs, which keep their history; "+
				"pause the pool instead", name, runs)
		}
		deleted, err := q.WorkPoolDelete(ctx, db.WorkPoolDeleteParams{
			WorkspaceID: p.WorkspaceID,
			ID:          pool.ID,
		})
		// A deployment or run created after the counts above still holds the
		// pool through its foreign key.
		if isForeignKeyViolation(err) {
			return errPrecondition("work pool %q came into use while it was being deleted; try again", name)
		}
		if err != nil {
			return fmt.Errorf("delete work pool: %w", err)
		}
		if deleted == 0 {
			return errNotFound("work pool", name)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "delete work pool", err)
	}

	s.Log.InfoContext(ctx, "work pool deleted",
		slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("pool", name))
	return connect.NewResponse(&ferryv1.DeleteWorkPoolResponse{}), nil
}

// ApplyWorkQueue creates a queue in a pool or updates its priority, paused
// flag and limit.
func (s *WorkPoolServer) ApplyWorkQueue(
	ctx context.Context,
	req *connect.Request[ferryv1.ApplyWorkQueueRequest],
) (*connect.Response[ferryv1.ApplyWorkQueueResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg

	var queue db.WorkQueue
	created := false
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		pool, err := lookupPool(ctx, q, p.WorkspaceID, m.GetPool())
		if err != nil {
			return err
		}
		id := uuid.New()
		queue, err = q.WorkQueueUpsert(ctx, db.WorkQueueUpsertParams{
			ID:               id,
			WorkspaceID:      p.WorkspaceID,
			PoolID:           pool.ID,
			Name:             m.GetName(),
			Priority:         m.GetPriority(),
			Paused:           m.GetPaused(),
			ConcurrencyLimit: m.GetConcurrencyLimit(),
			Now:              s.Clock.Now(),
		})
		if err != nil {
			// The pool was deleted after the lookup.
			if isForeignKeyViolation(err) {
				return errNotFound("work pool", m.GetPool())
			}
			return fmt.Errorf("upsert work queue: %w", err)
		}
		created = queue.ID == id
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "apply work queue", err)
	}
	return connect.NewResponse(&ferryv1.ApplyWorkQueueResponse{
		WorkQueue: workQueueToProto(queue, m.GetPool()),
		Created:   created,
	}), nil
}

// ListWorkQueues returns the queues of a pool, highest priority first.
func (s *WorkPoolServer) ListWorkQueues(
	ctx context.Context,
	req *connect.Request[ferryv1.ListWorkQueuesRequest],
) (*connect.Response[ferryv1.ListWorkQueuesResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := lookupPool(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetPool())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list work queues", err)
	}
	queues, err := s.Store.Q.WorkQueueList(ctx, pool.ID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list work queues", fmt.Errorf("list work queues: %w", err))
	}
	resp := &ferryv1.ListWorkQueuesResponse{WorkQueues: make([]*ferryv1.WorkQueue, 0, len(queues))}
	for _, queue := range queues {
		resp.WorkQueues = append(resp.WorkQueues, workQueueToProto(queue, pool.Name))
	}
	return connect.NewResponse(resp), nil
}

// ListAgents returns the agents registered to a pool by name, with whether
// each is online now.
func (s *WorkPoolServer) ListAgents(
	ctx context.Context,
	req *connect.Request[ferryv1.ListAgentsRequest],
) (*connect.Response[ferryv1.ListAgentsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := lookupPool(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetPool())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list agents", err)
	}
	agents, err := s.Store.Q.AgentList(ctx, pool.ID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list agents", fmt.Errorf("list agents: %w", err))
	}

	staleBefore := s.staleBefore()
	resp := &ferryv1.ListAgentsResponse{Agents: make([]*ferryv1.Agent, 0, len(agents))}
	for _, a := range agents {
		resp.Agents = append(resp.Agents, agentToProto(a, pool.Name, staleBefore))
	}
	return connect.NewResponse(resp), nil
}

// DrainAgent records an operator's request that an agent of the caller's
// workspace drain: the dispatchers offer it no new runs, and the runs it
// holds go on. An agent of another workspace is not found.
func (s *WorkPoolServer) DrainAgent(
	ctx context.Context,
	req *connect.Request[ferryv1.DrainAgentRequest],
) (*connect.Response[ferryv1.DrainAgentResponse], error) {
	agent, changed, err := s.setDrain(ctx, req.Msg.GetPool(), req.Msg.GetName(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.DrainAgentResponse{Agent: agent, Changed: changed}), nil
}

// UndrainAgent lifts an operator's drain request and wakes the dispatchers,
// which offer the agent runs again unless it drains by itself.
func (s *WorkPoolServer) UndrainAgent(
	ctx context.Context,
	req *connect.Request[ferryv1.UndrainAgentRequest],
) (*connect.Response[ferryv1.UndrainAgentResponse], error) {
	agent, changed, err := s.setDrain(ctx, req.Msg.GetPool(), req.Msg.GetName(), false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.UndrainAgentResponse{Agent: agent, Changed: changed}), nil
}

// setDrain sets an agent's drain request and reports whether it changed.
func (s *WorkPoolServer) setDrain(
	ctx context.Context,
	poolName, name string,
	drain bool,
) (*ferryv1.Agent, bool, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, false, err
	}
	op := "drain agent"
	if !drain {
		op = "undrain agent"
	}

	var (
		row     db.AgentListRow
		changed bool
	)
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		pool, err := lookupPool(ctx, q, p.WorkspaceID, poolName)
		if err != nil {
			return err
		}
		before, err := q.AgentGetByName(ctx, db.AgentGetByNameParams{PoolID: pool.ID, Name: name})
		if store.IsNotFound(err) {
			return errNotFound("agent", name)
		}
		if err != nil {
			return fmt.Errorf("get agent %s: %w", name, err)
		}
		changed = before.DrainRequested != drain
		updated, err := q.AgentSetDrainRequested(ctx, db.AgentSetDrainRequestedParams{
			DrainRequested: drain, RequestedBy: p.Subject, Now: s.Clock.Now(), PoolID: pool.ID, Name: name,
		})
		// The agent's pool was deleted after the read.
		if store.IsNotFound(err) {
			return errNotFound("agent", name)
		}
		if err != nil {
			return fmt.Errorf("set drain request of agent %s: %w", name, err)
		}
		row = db.AgentListRow(updated)
		if !changed || drain {
			return nil
		}
		// The dispatchers look at the request before each offer; waking
		// them lets the agent's offers resume now rather than on the next
		// tick.
		return transition.Notify(ctx, q, transition.ChannelDispatch, []uuid.UUID{pool.ID})
	})
	if err != nil {
		return nil, false, errInternal(ctx, s.Log, op, err)
	}

	if changed {
		s.Log.InfoContext(ctx, "agent drain request changed",
			slog.String("workspace_id", p.WorkspaceID.String()),
			slog.String("pool", poolName),
			slog.String("agent_id", row.ID.String()),
			slog.Bool("drain_requested", drain))
	}
	return agentToProto(row, poolName, s.staleBefore()), changed, nil
}

// staleBefore returns the heartbeat time before which an agent is offline.
func (s *WorkPoolServer) staleBefore() time.Time {
	interval := s.HeartbeatInterval
	if interval <= 0 {
		interval = defaultHeartbeatInterval
	}
	return s.Clock.Now().Add(-missedHeartbeats * interval)
}

// lookupPool returns the pool of the workspace with the given name, or a
// NotFound error; a pool of another workspace is not found either.
func lookupPool(
	ctx context.Context,
	q db.Querier,
	workspaceID uuid.UUID,
	name string,
) (db.WorkPool, error) {
	pool, err := q.WorkPoolGetByName(ctx, db.WorkPoolGetByNameParams{WorkspaceID: workspaceID, Name: name})
	if store.IsNotFound(err) {
		return db.WorkPool{}, errNotFound("work pool", name)
	}
	if err != nil {
		return db.WorkPool{}, fmt.Errorf("get work pool %s: %w", name, err)
	}
	return pool, nil
}

// isForeignKeyViolation reports whether err is a foreign-key violation: a
// referenced row vanished, or a referencing row appeared, under a concurrent
// transaction.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
