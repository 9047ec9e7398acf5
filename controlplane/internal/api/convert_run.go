package api

import (
	"context"
	"fmt"
	"strings"

	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func stateToProto(s string) ferryv1.RunState {
	return ferryv1.RunState(ferryv1.RunState_value["RUN_STATE_"+s])
}

func stateFromProto(s ferryv1.RunState) (string, bool) {
	name, ok := strings.CutPrefix(s.String(), "RUN_STATE_")
	if !ok || s == ferryv1.RunState_RUN_STATE_UNSPECIFIED {
		return "", false
	}
	return name, true
}

// nameCache resolves the names of the deployments, pools and queues runs
// refer to, once per request.
type nameCache struct {
	q           db.Querier
	deployments map[uuid.UUID]string
	pools       map[uuid.UUID]string
	queues      map[uuid.UUID]string
	// clock and lateAfter name Late runs; with a nil clock no run is Late.
	clock     clock.Clock
	lateAfter time.Duration
}

func newNameCache(q db.Querier) *nameCache {
	return &nameCache{q: q, deployments: map[uuid.UUID]string{}, pools: map[uuid.UUID]string{}, queues: map[uuid.UUID]string{}}
}

func (c *nameCache) names(ctx context.Context, r db.Run) (dep, pool, queue string, err error) {
	var ok bool
	if dep, ok = c.deployments[r.DeploymentID]; !ok {
		d, err := c.q.DeploymentGet(ctx, r.DeploymentID)
		if err != nil {
			return "", "", "", fmt.Errorf("read deployment of run: %w", err)
		}
		dep = d.Name
		c.deployments[r.DeploymentID] = dep
	}
	if pool, ok = c.pools[r.PoolID]; !ok {
		p, err := c.q.WorkPoolGet(ctx, r.PoolID)
		if err != nil {
			return "", "", "", fmt.Errorf("read pool of run: %w", err)
		}
		pool = p.Name
		c.pools[r.PoolID] = pool
	}
	if queue, ok = c.queues[r.QueueID]; !ok {
		q, err := c.q.WorkQueueGet(ctx, r.QueueID)
		if err != nil {
			return "", "", "", fmt.Errorf("read queue of run: %w", err)
		}
		queue = q.Name
		c.queues[r.QueueID] = queue
	}
	return dep, pool, queue, nil
}

func (c *nameCache) run(ctx context.Context, r db.Run) (*ferryv1.Run, error) {
	dep, pool, queue, err := c.names(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.Run{
		Id:                r.ID.String(),
		Deployment:        dep,
		DeploymentVersion: r.DeploymentVersion,
		Pool:              pool,
		Queue:             queue,
		State:             stateToProto(r.State),
		StateName:         r.StateName,
		StateMessage:      r.StateMessage,
		Attempt:           r.Attempt,
		MaxAttempts:       r.MaxAttempts,
		Parameters:        string(r.Parameters),
		Priority:          r.Priority,
		Tags:              r.Tags,
		ExpectedStartTime: timestamppb.New(r.ExpectedStartTime),
		CreateTime:        timestamppb.New(r.CreateTime),
		UpdateTime:        timestamppb.New(r.UpdateTime),
		InfrastructureId:  r.InfrastructureID,
		ExitCode:          r.ExitCode,
		CreatedBy:         r.CreatedBy,
	}
	if c.isLate(r) {
		out.StateName = run.NameLate
	}
	if r.IdempotencyKey != nil {
		out.IdempotencyKey = *r.IdempotencyKey
	}
	if r.StartTime != nil {
		out.StartTime = timestamppb.New(*r.StartTime)
	}
	if r.EndTime != nil {
		out.EndTime = timestamppb.New(*r.EndTime)
	}
	if r.AgentID.Valid {
		out.AgentId = r.AgentID.UUID.String()
	}
	return out, nil
}

// lateAt returns when r becomes Late, and false for a run that is not
// SCHEDULED or is awaiting a retry, which never does.
func (c *nameCache) lateAt(r db.Run) (time.Time, bool) {
	if c.clock == nil || r.State != string(run.StateScheduled) || r.StateName != run.NameScheduled {
		return time.Time{}, false
	}
	return r.ExpectedStartTime.Add(c.lateAfter), true
}

// isLate reports whether r is a SCHEDULED run, not awaiting a retry, whose
// expected start is at least lateAfter in the past. Lateness is decided
// when a run is read, so nothing has to rewrite runs as time passes.
func (c *nameCache) isLate(r db.Run) bool {
	at, ok := c.lateAt(r)
	return ok && !c.clock.Now().Before(at)
}
