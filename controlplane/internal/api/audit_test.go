package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// auditTestStart is the time of the first stored test event; each next one
// is a minute later.
var auditTestStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// setupAudit serves AuditService over HTTP on a fresh database holding
// events of two workspaces, and returns a client acting in the first and
// the ids of its events, oldest first.
func setupAudit(t *testing.T) (ferryv1connect.AuditServiceClient, []int64) {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	var ws [2]uuid.UUID
	for i := range ws {
		row, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: uuid.NewString(), Now: auditTestStart})
		if err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
		ws[i] = row.ID
	}
	// Six events in ws[0], alternating actors and decisions; one in ws[1];
	// one of an unauthenticated call.
	for i := range 6 {
		ev := db.AuditEventInsertParams{
			WorkspaceID: uuid.NullUUID{UUID: ws[0], Valid: true},
			Time:        auditTestStart.Add(time.Duration(i) * time.Minute),
			RequestID:   fmt.Sprintf("req-%d", i),
			Actor:       []string{"apikey:alice", "apikey:bob"}[i%2],
			ActorKind:   "api_key",
			Procedure:   ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure,
			Resource:    fmt.Sprintf("work_pool/p%d", i%3),
			Decision:    []string{"allow", "deny"}[i%2],
			Code:        []string{"ok", "permission_denied"}[i%2],
			SourceAddr:  "127.0.0.1",
		}
		if err := st.Q.AuditEventInsert(ctx, ev); err != nil {
			t.Fatalf("insert event: %v", err)
		}
	}
	for _, w := range []uuid.NullUUID{{UUID: ws[1], Valid: true}, {}} {
		if err := st.Q.AuditEventInsert(ctx, db.AuditEventInsertParams{
			WorkspaceID: w, Time: auditTestStart, RequestID: "elsewhere", Actor: "anonymous", ActorKind: "anonymous",
			Procedure: ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure, Decision: "none", Code: "unauthenticated",
		}); err != nil {
			t.Fatalf("insert event: %v", err)
		}
	}
	rows, err := st.Pool.Query(ctx, `SELECT id FROM audit_events WHERE workspace_id = $1 ORDER BY id`, ws[0])
	if err != nil {
		t.Fatalf("read ids: %v", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("scan id: %v", err)
		}
		ids = append(ids, id)
	}
	rows.Close()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAuditServiceHandler(&AuditServer{Q: st.Q, Log: log},
		connect.WithInterceptors(poolTestPrincipalInterceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := ferryv1connect.NewAuditServiceClient(srv.Client(), srv.URL,
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set(poolTestWorkspaceHeader, ws[0].String())
				return next(ctx, req)
			}
		})))
	return client, ids
}

func TestListAuditEvents(t *testing.T) {
	t.Parallel()
	c, ids := setupAudit(t)
	// at returns the ids of the events with the given indexes, in the
	// order given.
	at := func(idx ...int) []int64 {
		out := make([]int64, 0, len(idx))
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	ts := func(minutes int) *timestamppb.Timestamp {
		return timestamppb.New(auditTestStart.Add(time.Duration(minutes) * time.Minute))
	}
	tests := []struct {
		name string
		req  *ferryv1.ListAuditEventsRequest
		want []int64
	}{
		{name: "all of the workspace, newest first", req: &ferryv1.ListAuditEventsRequest{}, want: at(5, 4, 3, 2, 1, 0)},
		{name: "actor", req: &ferryv1.ListAuditEventsRequest{Actor: "apikey:bob"}, want: at(5, 3, 1)},
		{name: "decision", req: &ferryv1.ListAuditEventsRequest{Decision: ferryv1.AuditDecision_AUDIT_DECISION_ALLOW}, want: at(4, 2, 0)},
		{name: "decision none", req: &ferryv1.ListAuditEventsRequest{Decision: ferryv1.AuditDecision_AUDIT_DECISION_NONE}, want: at()},
		{name: "resource", req: &ferryv1.ListAuditEventsRequest{Resource: "work_pool/p1"}, want: at(4, 1)},
		{name: "procedure", req: &ferryv1.ListAuditEventsRequest{Procedure: ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure}, want: at(5, 4, 3, 2, 1, 0)},
		{name: "other procedure", req: &ferryv1.ListAuditEventsRequest{Procedure: ferryv1connect.RunServiceCreateRunProcedure}, want: at()},
		{name: "time range", req: &ferryv1.ListAuditEventsRequest{StartTime: ts(1), EndTime: ts(4)}, want: at(3, 2, 1)},
		{name: "filters combined", req: &ferryv1.ListAuditEventsRequest{Actor: "apikey:alice", StartTime: ts(1)}, want: at(4, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := c.ListAuditEvents(context.Background(), connect.NewRequest(tt.req))
			if err != nil {
				t.Fatalf("ListAuditEvents: %v", err)
			}
			got := make([]int64, 0, len(resp.Msg.GetEvents()))
			for _, e := range resp.Msg.GetEvents() {
				got = append(got, e.GetId())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListAuditEventsFields(t *testing.T) {
	t.Parallel()
	c, ids := setupAudit(t)
	resp, err := c.ListAuditEvents(context.Background(), connect.NewRequest(&ferryv1.ListAuditEventsRequest{PageSize: 1}))
	if err != nil {
		t.Fatalf("ListAuditEvents: %v", err)
	}
	want := &ferryv1.AuditEvent{
		Id: ids[5], Time: timestamppb.New(auditTestStart.Add(5 * time.Minute)), RequestId: "req-5",
		Actor: "apikey:bob", ActorKind: "api_key", Procedure: ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure,
		Resource: "work_pool/p2", Decision: ferryv1.AuditDecision_AUDIT_DECISION_DENY, Code: "permission_denied",
		SourceAddr: "127.0.0.1",
	}
	if len(resp.Msg.GetEvents()) != 1 {
		t.Fatalf("%d events, want 1", len(resp.Msg.GetEvents()))
	}
	if diff := cmp.Diff(want, resp.Msg.GetEvents()[0], protocmp.Transform()); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestListAuditEventsPages(t *testing.T) {
	t.Parallel()
	c, ids := setupAudit(t)
	var got []int64
	token := ""
	for range len(ids) {
		resp, err := c.ListAuditEvents(context.Background(), connect.NewRequest(&ferryv1.ListAuditEventsRequest{
			PageSize: 4, PageToken: token,
		}))
		if err != nil {
			t.Fatalf("ListAuditEvents: %v", err)
		}
		for _, e := range resp.Msg.GetEvents() {
			got = append(got, e.GetId())
		}
		token = resp.Msg.GetNextPageToken()
		if token == "" {
			break
		}
	}
	want := []int64{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
}

func TestListAuditEventsInvalid(t *testing.T) {
	t.Parallel()
	c, _ := setupAudit(t)
	tests := []struct {
		name string
		req  *ferryv1.ListAuditEventsRequest
		part string
	}{
		{name: "page token", req: &ferryv1.ListAuditEventsRequest{PageToken: "garbage"}, part: "page_token"},
		{name: "unknown decision", req: &ferryv1.ListAuditEventsRequest{Decision: 42}, part: "decision"},
		{name: "empty time range", req: &ferryv1.ListAuditEventsRequest{
			StartTime: timestamppb.New(auditTestStart), EndTime: timestamppb.New(auditTestStart),
		}, part: "end_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.ListAuditEvents(context.Background(), connect.NewRequest(tt.req))
			poolTestWantCode(t, err, connect.CodeInvalidArgument, tt.part)
		})
	}
}
