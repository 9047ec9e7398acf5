package api

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/limits"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// ConcurrencyLimitServer implements
// [ferryv1connect.ConcurrencyLimitServiceHandler]. Store, Clock and Log are
// required.
type ConcurrencyLimitServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
}

var _ ferryv1connect.ConcurrencyLimitServiceHandler = (*ConcurrencyLimitServer)(nil)

// ApplyConcurrencyLimit creates or updates a named limit. Lowering the slots
// below the runs active now cancels none of them; new runs wait until
// enough have ended.
func (s *ConcurrencyLimitServer) ApplyConcurrencyLimit(
	ctx context.Context,
	req *connect.Request[ferryv1.ApplyConcurrencyLimitRequest],
) (*connect.Response[ferryv1.ApplyConcurrencyLimitResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if m.GetSlots() < 1 {
		return nil, errInvalid("slots", "must be at least 1")
	}
	tags := slices.Compact(slices.Sorted(slices.Values(m.GetTags())))
	row, err := s.Store.Q.ConcurrencyLimitUpsert(ctx, db.ConcurrencyLimitUpsertParams{
		ID: uuid.New(), WorkspaceID: p.WorkspaceID, Name: m.GetName(), Slots: m.GetSlots(),
		Tags: orNoTags(tags), Description: m.GetDescription(), Now: s.Clock.Now(),
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "apply concurrency limit", err)
	}
	if err := s.poke(ctx); err != nil {
		return nil, errInternal(ctx, s.Log, "apply concurrency limit", err)
	}
	return connect.NewResponse(&ferryv1.ApplyConcurrencyLimitResponse{Limit: limitToProto(row, nil)}), nil
}

// ListConcurrencyLimits lists the workspace's named limits with the runs
// holding their slots.
func (s *ConcurrencyLimitServer) ListConcurrencyLimits(
	ctx context.Context,
	_ *connect.Request[ferryv1.ListConcurrencyLimitsRequest],
) (*connect.Response[ferryv1.ListConcurrencyLimitsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.Store.Q.ConcurrencyLimitList(ctx, p.WorkspaceID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list concurrency limits", err)
	}
	resp := &ferryv1.ListConcurrencyLimitsResponse{Limits: make([]*ferryv1.ConcurrencyLimit, 0, len(rows))}
	if len(rows) == 0 {
		return connect.NewResponse(resp), nil
	}
	active, err := s.Store.Q.ConcurrencyLimitActiveRuns(ctx, db.ConcurrencyLimitActiveRunsParams{
		WorkspaceID: p.WorkspaceID, Now: s.Clock.Now(),
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list concurrency limits", err)
	}
	holders := make(map[uuid.UUID][]string)
	for _, a := range active {
		for _, id := range a.LimitIds {
			holders[id] = append(holders[id], a.ID.String())
		}
	}
	for _, r := range rows {
		resp.Limits = append(resp.Limits, limitToProto(r, holders[r.ID]))
	}
	return connect.NewResponse(resp), nil
}

// DeleteConcurrencyLimit deletes a named limit; runs it held back may be
// offered at once.
func (s *ConcurrencyLimitServer) DeleteConcurrencyLimit(
	ctx context.Context,
	req *connect.Request[ferryv1.DeleteConcurrencyLimitRequest],
) (*connect.Response[ferryv1.DeleteConcurrencyLimitResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.Store.Q.ConcurrencyLimitDelete(ctx, db.ConcurrencyLimitDeleteParams{
		WorkspaceID: p.WorkspaceID, Name: req.Msg.GetName(),
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "delete concurrency limit", err)
	}
	if n == 0 {
		return nil, errNotFound("concurrency limit", req.Msg.GetName())
	}
	if err := s.poke(ctx); err != nil {
		return nil, errInternal(ctx, s.Log, "delete concurrency limit", err)
	}
	return connect.NewResponse(&ferryv1.DeleteConcurrencyLimitResponse{}), nil
}

// poke wakes every dispatcher: a changed limit may let runs go.
func (s *ConcurrencyLimitServer) poke(ctx context.Context) error {
	return wakeDispatchers(ctx, s.Store.Q)
}

// wakeDispatchers wakes the dispatch loops of every replica.
func wakeDispatchers(ctx context.Context, q db.Querier) error {
	if err := q.Notify(ctx, db.NotifyParams{Channel: transition.ChannelDispatch, Payload: "*"}); err != nil {
		return fmt.Errorf("wake dispatchers: %w", err)
	}
	return nil
}

func limitToProto(l db.ConcurrencyLimit, holders []string) *ferryv1.ConcurrencyLimit {
	return &ferryv1.ConcurrencyLimit{
		Name: l.Name, Slots: l.Slots, Tags: l.Tags, Description: l.Description, ActiveRunIds: holders,
		CreateTime: timestamppb.New(l.CreateTime), UpdateTime: timestamppb.New(l.UpdateTime),
	}
}

func orNoTags(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

// collisionStrategies maps the proto strategies to the stored ones.
var collisionStrategies = map[ferryv1.CollisionStrategy]string{
	ferryv1.CollisionStrategy_COLLISION_STRATEGY_UNSPECIFIED:   limits.StrategyEnqueue,
	ferryv1.CollisionStrategy_COLLISION_STRATEGY_ENQUEUE:       limits.StrategyEnqueue,
	ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_NEW:    limits.StrategyCancelNew,
	ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_OLDEST: limits.StrategyCancelOldest,
}

// syncDeploymentLimits copies the limit fields of a deployment's current
// spec into its controls row, in the apply's transaction. A deployment
// without limits and without a controls row gets none.
func syncDeploymentLimits(ctx context.Context, q db.Querier, d db.Deployment, spec *ferryv1.DeploymentSpec, now time.Time) error {
	strategy, ok := collisionStrategies[spec.GetCollisionStrategy()]
	if !ok {
		return errInvalid("spec.collision_strategy", "must be ENQUEUE, CANCEL_NEW or CANCEL_OLDEST")
	}
	names := slices.Compact(slices.Sorted(slices.Values(spec.GetLimits())))
	if spec.GetConcurrencyLimit() == 0 && len(names) == 0 && strategy == limits.StrategyEnqueue {
		_, err := q.DeploymentControlsGet(ctx, d.ID)
		if store.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read deployment controls: %w", err)
		}
	}
	err := q.DeploymentControlsUpsertSpec(ctx, db.DeploymentControlsUpsertSpecParams{
		DeploymentID: d.ID, WorkspaceID: d.WorkspaceID, ConcurrencyLimit: spec.GetConcurrencyLimit(),
		CollisionStrategy: strategy, LimitNames: orNoTags(names), Now: now,
	})
	if err != nil {
		return fmt.Errorf("store deployment limits: %w", err)
	}
	return wakeDispatchers(ctx, q)
}
