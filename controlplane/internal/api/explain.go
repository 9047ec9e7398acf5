package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/limits"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// reasonCodes maps the reasons of package limits to their proto codes.
var reasonCodes = map[limits.Code]ferryv1.WaitReasonCode{
	limits.CodeNotDue:           ferryv1.WaitReasonCode_WAIT_REASON_CODE_NOT_DUE,
	limits.CodePoolPaused:       ferryv1.WaitReasonCode_WAIT_REASON_CODE_POOL_PAUSED,
	limits.CodeQueuePaused:      ferryv1.WaitReasonCode_WAIT_REASON_CODE_QUEUE_PAUSED,
	limits.CodeDeploymentPaused: ferryv1.WaitReasonCode_WAIT_REASON_CODE_DEPLOYMENT_PAUSED,
	limits.CodeNoAgent:          ferryv1.WaitReasonCode_WAIT_REASON_CODE_NO_AGENT,
	limits.CodeAgentsDraining:   ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_DRAINING,
	limits.CodeAgentsAtCapacity: ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_AT_CAPACITY,
	limits.CodeConcurrencyLimit: ferryv1.WaitReasonCode_WAIT_REASON_CODE_CONCURRENCY_LIMIT,
	limits.CodePriority:         ferryv1.WaitReasonCode_WAIT_REASON_CODE_PRIORITY,
	limits.CodeOffered:          ferryv1.WaitReasonCode_WAIT_REASON_CODE_OFFERED,
	limits.CodePolicyDenied:     ferryv1.WaitReasonCode_WAIT_REASON_CODE_POLICY_DENIED,
	limits.CodeActive:           ferryv1.WaitReasonCode_WAIT_REASON_CODE_ACTIVE,
	limits.CodeEnded:            ferryv1.WaitReasonCode_WAIT_REASON_CODE_ENDED,
}

// ExplainRun says why a run is not running. Agents count as online when
// they have not disconnected and heartbeated within missedHeartbeats of
// the default heartbeat interval.
func (s *RunServer) ExplainRun(ctx context.Context, req *connect.Request[ferryv1.ExplainRunRequest]) (*connect.Response[ferryv1.ExplainRunResponse], error) {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	reasons, err := limits.Explain(ctx, s.Store.Q, limits.ExplainParams{
		Run: r, Now: now, AgentStaleBefore: now.Add(-missedHeartbeats * defaultHeartbeatInterval),
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "explain run", fmt.Errorf("explain run %s: %w", r.ID, err))
	}
	pr, err := s.names().run(ctx, r)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "explain run", err)
	}
	resp := &ferryv1.ExplainRunResponse{Run: pr}
	for _, rs := range reasons {
		w := &ferryv1.WaitReason{
			Code: reasonCodes[rs.Code], Message: rs.Message, Limit: rs.Limit, RunsAhead: rs.RunsAhead,
		}
		for _, id := range rs.HoldingRunIDs {
			w.HoldingRunIds = append(w.HoldingRunIds, id.String())
		}
		if rs.AgentID != uuid.Nil {
			w.AgentId = rs.AgentID.String()
		}
		if !rs.Until.IsZero() {
			w.Until = timestamppb.New(rs.Until)
		}
		resp.Reasons = append(resp.Reasons, w)
	}
	return connect.NewResponse(resp), nil
}
