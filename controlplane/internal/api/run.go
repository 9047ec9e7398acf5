package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dispatch"
	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/params"
	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// DefaultLateAfter is how far past its expected start a scheduled run
// must be before it is named Late, when [RunServer.LateAfter] is zero.
const DefaultLateAfter = 30 * time.Second

// RunServer implements ferry.v1.RunService.
type RunServer struct {
	Store    *store.Store
	Clock    clock.Clock
	Log      *slog.Logger
	Hub      *dispatch.Hub
	Applier  *transition.Applier
	Listener *notify.Listener
	// LateAfter is how far past its expected start a SCHEDULED run (not one
	// awaiting a retry) must be before it is returned with the state name
	// Late. Zero means DefaultLateAfter.
	LateAfter time.Duration
}

// names returns a name cache for one request that also names Late runs.
func (s *RunServer) names() *nameCache {
	c := newNameCache(s.Store.Q)
	c.clock = s.Clock
	c.lateAfter = s.lateAfter()
	return c
}

// lateAfter returns the late-after margin in force.
func (s *RunServer) lateAfter() time.Duration {
	if s.LateAfter <= 0 {
		return DefaultLateAfter
	}
	return s.LateAfter
}

// CreateRun creates one run.
func (s *RunServer) CreateRun(ctx context.Context, req *connect.Request[ferryv1.CreateRunRequest]) (*connect.Response[ferryv1.CreateRunResponse], error) {
	runs, created, err := s.create(ctx, []*ferryv1.RunTemplate{req.Msg.GetRun()}, "run")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.CreateRunResponse{Run: runs[0], Created: created[0]}), nil
}

// CreateRuns creates many runs in one transaction.
func (s *RunServer) CreateRuns(ctx context.Context, req *connect.Request[ferryv1.CreateRunsRequest]) (*connect.Response[ferryv1.CreateRunsResponse], error) {
	runs, _, err := s.create(ctx, req.Msg.GetRuns(), "runs")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&ferryv1.CreateRunsResponse{Runs: runs}), nil
}

type deploymentInfo struct {
	row  db.Deployment
	spec *ferryv1.DeploymentSpec
	// pool is the deployment's work pool, for its base job template.
	pool db.WorkPool
}

func (s *RunServer) create(ctx context.Context, templates []*ferryv1.RunTemplate, field string) ([]*ferryv1.Run, []bool, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := s.Clock.Now()
	deps := make(map[string]*deploymentInfo)
	in := db.RunInsertManyParams{WorkspaceID: p.WorkspaceID, Now: now, CreatedBy: p.Subject}
	type key struct {
		dep uuid.UUID
		key string
	}
	seen := make(map[key]int)
	for i, t := range templates {
		path := field
		if field == "runs" {
			path = fmt.Sprintf("runs[%d]", i)
		}
		d, ok := deps[t.GetDeployment()]
		if !ok {
			d, err = s.deployment(ctx, p, t.GetDeployment())
			if err != nil {
				return nil, nil, err
			}
			deps[t.GetDeployment()] = d
		}
		merged, err := params.Merge(d.spec.GetDefaultParameters(), t.GetParameters())
		if err != nil {
			return nil, nil, errInvalid(path+".parameters", "%v", err)
		}
		if schema := d.spec.GetParametersSchema(); schema != "" {
			if err := params.Validate(schema, merged); err != nil {
				return nil, nil, errInvalid(path+".parameters", "%v", err)
			}
		}
		if _, _, err := checkJobVariables(d.pool, d.spec.GetJobVariables(), t.GetJobVariables()); err != nil {
			return nil, nil, errInvalid(path+".job_variables", "%v", err)
		}
		if k := t.GetIdempotencyKey(); k != "" {
			kk := key{d.row.ID, k}
			if _, dup := seen[kk]; dup {
				return nil, nil, errInvalid(path+".idempotency_key", "repeats the key of an earlier run in this request")
			}
			seen[kk] = i
		}
		tags, err := json.Marshal(runTags(d.spec.GetTags(), t.GetTags()))
		if err != nil {
			return nil, nil, errInternal(ctx, s.Log, "create run", err)
		}
		start := now
		if t.GetExpectedStartTime() != nil {
			start, err = timeArg(path+".expected_start_time", t.GetExpectedStartTime(), earliestTime, now.Add(scheduleHorizon))
			if err != nil {
				return nil, nil, err
			}
		}
		priority := d.spec.GetPriority()
		if t.Priority != nil {
			priority = t.GetPriority()
		}
		retry := d.spec.GetRetry()
		in.Ids = append(in.Ids, uuid.Must(uuid.NewV7()))
		in.DeploymentIds = append(in.DeploymentIds, d.row.ID)
		in.DeploymentVersions = append(in.DeploymentVersions, d.row.CurrentVersion)
		in.PoolIds = append(in.PoolIds, d.row.PoolID)
		in.QueueIds = append(in.QueueIds, d.row.QueueID)
		in.MaxAttempts = append(in.MaxAttempts, 1+retry.GetRetries())
		in.Parameters = append(in.Parameters, merged)
		in.IdempotencyKeys = append(in.IdempotencyKeys, t.GetIdempotencyKey())
		in.Priorities = append(in.Priorities, priority)
		in.Tags = append(in.Tags, string(tags))
		in.ExpectedStartTimes = append(in.ExpectedStartTimes, start)
		in.RetryDelaysMs = append(in.RetryDelaysMs, retry.GetDelay().AsDuration().Milliseconds())
		in.RetryOns = append(in.RetryOns, int32(run.RetryOnOf(retry.GetOn())))
		in.TimeoutsMs = append(in.TimeoutsMs, d.spec.GetTimeout().AsDuration().Milliseconds())
		in.JobVariables = append(in.JobVariables, t.GetJobVariables())
	}

	byID := make(map[uuid.UUID]db.Run, len(templates))
	created := make(map[uuid.UUID]bool, len(templates))
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		inserted, err := q.RunInsertMany(ctx, in)
		if err != nil {
			return fmt.Errorf("insert runs: %w", err)
		}
		ids := make([]uuid.UUID, 0, len(inserted))
		pools := make(map[uuid.UUID]bool)
		for _, r := range inserted {
			byID[r.ID] = r
			created[r.ID] = true
			ids = append(ids, r.ID)
			pools[r.PoolID] = true
		}
		if len(inserted) < len(in.Ids) {
			existing, err := q.RunGetByIdempotencyKeys(ctx, db.RunGetByIdempotencyKeysParams{DeploymentIds: in.DeploymentIds, Keys: in.IdempotencyKeys})
			if err != nil {
				return fmt.Errorf("read runs by idempotency key: %w", err)
			}
			for _, r := range existing {
				byID[r.ID] = r
			}
		}
		if err := q.RunStateChangeInsertCreated(ctx, db.RunStateChangeInsertCreatedParams{WorkspaceID: p.WorkspaceID, Actor: p.Subject, Now: now, RunIds: ids}); err != nil {
			return fmt.Errorf("record run creation: %w", err)
		}
		poolIDs := make([]uuid.UUID, 0, len(pools))
		for id := range pools {
			poolIDs = append(poolIDs, id)
		}
		return transition.Notify(ctx, q, transition.ChannelDispatch, poolIDs)
	})
	if err != nil {
		return nil, nil, errInternal(ctx, s.Log, "create runs", err)
	}
	// Match each template to its run: a new one in order, or the existing
	// run with the same idempotency key.
	byKey := make(map[key]db.Run)
	for _, r := range byID {
		if r.IdempotencyKey != nil {
			byKey[key{r.DeploymentID, *r.IdempotencyKey}] = r
		}
	}
	out := make([]*ferryv1.Run, len(templates))
	flags := make([]bool, len(templates))
	names := s.names()
	for i := range templates {
		r, ok := byID[in.Ids[i]]
		if !ok {
			r = byKey[key{in.DeploymentIds[i], in.IdempotencyKeys[i]}]
		}
		flags[i] = created[r.ID]
		pr, err := names.run(ctx, r)
		if err != nil {
			return nil, nil, errInternal(ctx, s.Log, "create runs", err)
		}
		out[i] = pr
		if flags[i] && s.Hub != nil {
			s.Hub.Poke(r.PoolID)
		}
	}
	return out, flags, nil
}

// runTags returns the tags a new run carries: its deployment's, then those
// given for the run, each once, in that order.
func runTags(deployment, given []string) []string {
	out := make([]string, 0, len(deployment)+len(given))
	seen := make(map[string]bool, cap(out))
	for _, tag := range slices.Concat(deployment, given) {
		if !seen[tag] {
			seen[tag] = true
			out = append(out, tag)
		}
	}
	return out
}

func (s *RunServer) deployment(ctx context.Context, p auth.Principal, name string) (*deploymentInfo, error) {
	row, err := s.Store.Q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: p.WorkspaceID, Name: name})
	if store.IsNotFound(err) {
		return nil, errNotFound("deployment", name)
	}
	if err != nil {
		return nil, errInternal(ctx, s.Log, "read deployment", err)
	}
	v, err := s.Store.Q.DeploymentVersionGet(ctx, db.DeploymentVersionGetParams{DeploymentID: row.ID, Version: row.CurrentVersion})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "read deployment version", err)
	}
	spec, err := store.DecodeDeploymentSpec(v.Spec)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "decode deployment version", err)
	}
	pool, err := s.Store.Q.WorkPoolGet(ctx, row.PoolID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "read work pool of deployment", err)
	}
	return &deploymentInfo{row: row, spec: spec, pool: pool}, nil
}

// getRun reads a run of the caller's workspace; other workspaces' runs
// answer NotFound exactly like missing ones.
func (s *RunServer) getRun(ctx context.Context, id string) (auth.Principal, db.Run, error) {
	p, err := principal(ctx)
	if err != nil {
		return p, db.Run{}, err
	}
	rid, err := uuid.Parse(id)
	if err != nil {
		return p, db.Run{}, errInvalid("id", "not a UUID")
	}
	r, err := s.Store.Q.RunGet(ctx, db.RunGetParams{WorkspaceID: p.WorkspaceID, ID: rid})
	if store.IsNotFound(err) {
		return p, db.Run{}, errNotFound("run", id)
	}
	if err != nil {
		return p, db.Run{}, errInternal(ctx, s.Log, "read run", err)
	}
	return p, r, nil
}

// GetRun returns one run.
func (s *RunServer) GetRun(ctx context.Context, req *connect.Request[ferryv1.GetRunRequest]) (*connect.Response[ferryv1.GetRunResponse], error) {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	pr, err := s.names().run(ctx, r)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get run", err)
	}
	return connect.NewResponse(&ferryv1.GetRunResponse{Run: pr}), nil
}

// CancelRun cancels a run.
func (s *RunServer) CancelRun(ctx context.Context, req *connect.Request[ferryv1.CancelRunRequest]) (*connect.Response[ferryv1.CancelRunResponse], error) {
	reason := req.Msg.GetReason()
	if reason == "" {
		reason = "cancel requested"
	}
	return control(s, ctx, req.Msg.GetId(), func(p auth.Principal) run.Event {
		return run.CancelRequested{Actor: p.Subject, Reason: reason}
	}, func(r *ferryv1.Run) *connect.Response[ferryv1.CancelRunResponse] {
		return connect.NewResponse(&ferryv1.CancelRunResponse{Run: r})
	})
}

// RetryRun schedules a new attempt of an ended run.
func (s *RunServer) RetryRun(ctx context.Context, req *connect.Request[ferryv1.RetryRunRequest]) (*connect.Response[ferryv1.RetryRunResponse], error) {
	return control(s, ctx, req.Msg.GetId(), func(p auth.Principal) run.Event {
		return run.Retry{Actor: p.Subject}
	}, func(r *ferryv1.Run) *connect.Response[ferryv1.RetryRunResponse] {
		return connect.NewResponse(&ferryv1.RetryRunResponse{Run: r})
	})
}

func control[T any](s *RunServer, ctx context.Context, id string, event func(auth.Principal) run.Event, wrap func(*ferryv1.Run) *connect.Response[T]) (*connect.Response[T], error) {
	p, r, err := s.getRun(ctx, id)
	if err != nil {
		return nil, err
	}
	var out transition.Outcome
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		outcomes, err := s.Applier.Apply(ctx, q, s.Clock.Now(), []transition.Request{{RunID: r.ID, Event: event(p)}},
			func(row db.Run) bool { return row.WorkspaceID == p.WorkspaceID })
		if err != nil {
			return err
		}
		out = outcomes[0]
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "change run", err)
	}
	switch {
	case errors.Is(out.Err, transition.ErrNoRun):
		return nil, errNotFound("run", id)
	case errors.Is(out.Err, run.ErrTerminal):
		return nil, errPrecondition("run %s already ended %s; nothing to cancel", id, out.Row.State)
	case errors.Is(out.Err, run.ErrNotRetryable):
		return nil, errPrecondition("run %s is %s; only failed, crashed or cancelled runs can be retried", id, out.Row.State)
	case errors.Is(out.Err, run.ErrNotTerminal):
		return nil, errPrecondition("run %s is still %s; cancel it or wait for it to end before retrying", id, out.Row.State)
	case out.Err != nil:
		return nil, errPrecondition("run %s: %v", id, out.Err)
	}
	if out.Row.State == string(run.StateScheduled) && s.Hub != nil {
		s.Hub.Poke(out.Row.PoolID)
	}
	pr, err := s.names().run(ctx, out.Row)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "change run", err)
	}
	return wrap(pr), nil
}
