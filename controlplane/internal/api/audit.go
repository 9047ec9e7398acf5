package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// defaultAuditPageSize is the page size of ListAuditEvents when the request
// sets none: about a screen of a terminal table, twice.
const defaultAuditPageSize = 100

// AuditServer implements [ferryv1connect.AuditServiceHandler]. Q and Log are
// required.
type AuditServer struct {
	Q   db.Querier
	Log *slog.Logger
}

var _ ferryv1connect.AuditServiceHandler = (*AuditServer)(nil)

// auditCursor is the position after the last event of a page.
type auditCursor struct {
	T  time.Time `json:"t"`
	ID int64     `json:"id"`
}

// auditDecisions maps the proto decisions to the stored ones.
var auditDecisions = map[ferryv1.AuditDecision]string{
	ferryv1.AuditDecision_AUDIT_DECISION_ALLOW: "allow",
	ferryv1.AuditDecision_AUDIT_DECISION_DENY:  "deny",
	ferryv1.AuditDecision_AUDIT_DECISION_NONE:  "none",
}

// ListAuditEvents lists the events of the caller's workspace, newest first.
func (s *AuditServer) ListAuditEvents(
	ctx context.Context,
	req *connect.Request[ferryv1.ListAuditEventsRequest],
) (*connect.Response[ferryv1.ListAuditEventsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	arg := db.AuditEventListParams{
		WorkspaceID: p.WorkspaceID,
		Actor:       auditFilter(m.GetActor()),
		Procedure:   auditFilter(m.GetProcedure()),
		Resource:    auditFilter(m.GetResource()),
		PageLimit:   m.GetPageSize(),
	}
	if arg.PageLimit == 0 {
		arg.PageLimit = defaultAuditPageSize
	}
	if d := m.GetDecision(); d != ferryv1.AuditDecision_AUDIT_DECISION_UNSPECIFIED {
		name, ok := auditDecisions[d]
		if !ok {
			return nil, errInvalid("decision", "unknown decision %d", int32(d))
		}
		arg.Decision = &name
	}
	if t := m.GetStartTime(); t != nil {
		v, err := filterTimeArg("start_time", t)
		if err != nil {
			return nil, err
		}
		arg.StartTime = &v
	}
	if t := m.GetEndTime(); t != nil {
		v, err := filterTimeArg("end_time", t)
		if err != nil {
			return nil, err
		}
		arg.EndTime = &v
	}
	if arg.StartTime != nil && arg.EndTime != nil && !arg.StartTime.Before(*arg.EndTime) {
		return nil, errInvalid("end_time", "must be after start_time")
	}
	if m.GetPageToken() != "" {
		var c auditCursor
		if err := decodeToken(m.GetPageToken(), &c); err != nil {
			return nil, errInvalid("page_token", "not a token returned by ListAuditEvents")
		}
		arg.CursorTime, arg.CursorID = &c.T, &c.ID
	}

	rows, err := s.Q.AuditEventList(ctx, arg)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list audit events", err)
	}
	resp := &ferryv1.ListAuditEventsResponse{Events: make([]*ferryv1.AuditEvent, 0, len(rows))}
	for _, r := range rows {
		resp.Events = append(resp.Events, auditEventToProto(r))
	}
	if int32(len(rows)) == arg.PageLimit {
		last := rows[len(rows)-1]
		resp.NextPageToken = encodeToken(auditCursor{T: last.Time, ID: last.ID})
	}
	return connect.NewResponse(resp), nil
}

func auditEventToProto(r db.AuditEvent) *ferryv1.AuditEvent {
	decision := ferryv1.AuditDecision_AUDIT_DECISION_UNSPECIFIED
	for d, name := range auditDecisions {
		if name == r.Decision {
			decision = d
		}
	}
	return &ferryv1.AuditEvent{
		Id:         r.ID,
		Time:       timestamppb.New(r.Time),
		RequestId:  r.RequestID,
		Actor:      r.Actor,
		ActorKind:  r.ActorKind,
		Procedure:  r.Procedure,
		Resource:   r.Resource,
		Decision:   decision,
		Reason:     r.Reason,
		Code:       r.Code,
		SourceAddr: r.SourceAddr,
	}
}

// auditFilter returns a pointer to s, or nil when s is empty: an unset filter.
func auditFilter(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
