package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/audit"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/callinfo"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Test headers the stand-in authentication and authorization read.
const (
	// testKeyHeader names the caller: "good" authenticates, anything else
	// is refused.
	testKeyHeader = "Test-Key"
	// testDenyHeader makes the stand-in authorization deny the call.
	testDenyHeader = "Test-Deny"
	testSubject    = "apikey:tester"
	testDenyReason = "role viewer may not list work pools"
)

// testStart is the fake clock's time when a test begins.
var testStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type testEnv struct {
	store *store.Store
	ws    uuid.UUID
	cred  uuid.UUID
	url   string
	pools ferryv1connect.WorkPoolServiceClient
	agent ferryv1connect.AgentServiceClient
	log   *bytes.Buffer
}

// setup serves WorkPoolService and an AgentService that implements
// nothing behind the audit interceptor, a stand-in authentication that
// reports its principal through [audit.ObservePrincipal], and a stand-in
// authorization that records its decision, as the real ones do.
func setup(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(testStart)
	ws, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "audited", Now: fake.Now()})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}
	e := &testEnv{store: st, ws: ws.ID, cred: uuid.New(), log: new(bytes.Buffer)}
	log := slog.New(slog.NewJSONHandler(e.log, nil))

	opts := connect.WithInterceptors(
		audit.NewInterceptor(audit.Config{}, st.Q, fake, log),
		e.authn(),
		authz(),
	)
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&api.WorkPoolServer{
		Store: st, Clock: fake, Log: log, HeartbeatInterval: time.Second,
	}, opts))
	mux.Handle(ferryv1connect.NewAgentServiceHandler(ferryv1connect.UnimplementedAgentServiceHandler{}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.pools = ferryv1connect.NewWorkPoolServiceClient(srv.Client(), srv.URL)
	e.agent = ferryv1connect.NewAgentServiceClient(srv.Client(), srv.URL)
	return e
}

// authn authenticates the key "good" as an API key of the test workspace.
func (e *testEnv) authn() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Header().Get(testKeyHeader) != "good" {
				return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("the API key was revoked"))
			}
			p := auth.Principal{
				Kind: auth.KindAPIKey, WorkspaceID: e.ws, CredentialID: e.cred, Subject: testSubject, Role: "admin",
			}
			audit.ObservePrincipal(ctx, p)
			return next(auth.WithPrincipal(ctx, p), req)
		}
	}
}

// authz allows the call unless testDenyHeader is set, naming a resource
// when the request has a name.
func authz() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			rec := callinfo.From(ctx)
			if named, ok := req.Any().(interface{ GetName() string }); ok {
				rec.SetResource("work_pool/" + named.GetName())
			}
			if req.Header().Get(testDenyHeader) != "" {
				rec.SetDecision(callinfo.DecisionDeny, testDenyReason)
				return nil, connect.NewError(connect.CodePermissionDenied, errors.New("denied: "+testDenyReason))
			}
			rec.SetDecision(callinfo.DecisionAllow, "role admin")
			return next(ctx, req)
		}
	}
}

// call makes a request with the given test key and optional deny flag and
// request id.
func call[T any](key string, deny bool, requestID string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set(testKeyHeader, key)
	if deny {
		req.Header().Set(testDenyHeader, "1")
	}
	if requestID != "" {
		req.Header().Set(audit.RequestIDHeader, requestID)
	}
	return req
}

// events returns every stored event, oldest first.
func (e *testEnv) events(t *testing.T) []db.AuditEvent {
	t.Helper()
	rows, err := e.store.Pool.Query(context.Background(),
		`SELECT id, workspace_id, time, request_id, actor, actor_kind, procedure, resource,
		        decision, reason, code, source_addr
		 FROM audit_events ORDER BY id`)
	if err != nil {
		t.Fatalf("query audit events: %v", err)
	}
	defer rows.Close()
	var out []db.AuditEvent
	for rows.Next() {
		var ev db.AuditEvent
		if err := rows.Scan(&ev.ID, &ev.WorkspaceID, &ev.Time, &ev.RequestID, &ev.Actor, &ev.ActorKind,
			&ev.Procedure, &ev.Resource, &ev.Decision, &ev.Reason, &ev.Code, &ev.SourceAddr); err != nil {
			t.Fatalf("scan audit event: %v", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read audit events: %v", err)
	}
	return out
}

func TestAuditedCalls(t *testing.T) {
	t.Parallel()
	applyPool := &ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS}
	tests := []struct {
		name string
		do   func(e *testEnv) error
		// want is the single stored event, with ID and RequestID ignored;
		// nil means nothing may be stored.
		want *db.AuditEvent
	}{
		{
			name: "mutating call",
			do: func(e *testEnv) error {
				_, err := e.pools.ApplyWorkPool(context.Background(), call("good", false, "", applyPool))
				return err
			},
			want: &db.AuditEvent{
				Actor: testSubject, ActorKind: "api_key", Procedure: ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure,
				Resource: "work_pool/etl", Decision: "allow", Reason: "role admin", Code: "ok", SourceAddr: "127.0.0.1",
			},
		},
		{
			name: "read",
			do: func(e *testEnv) error {
				_, err := e.pools.ListWorkPools(context.Background(), call("good", false, "", &ferryv1.ListWorkPoolsRequest{}))
				return err
			},
		},
		{
			name: "denied read",
			do: func(e *testEnv) error {
				_, err := e.pools.ListWorkPools(context.Background(), call("good", true, "", &ferryv1.ListWorkPoolsRequest{}))
				return wantCode(err, connect.CodePermissionDenied)
			},
			want: &db.AuditEvent{
				Actor: testSubject, ActorKind: "api_key", Procedure: ferryv1connect.WorkPoolServiceListWorkPoolsProcedure,
				Decision: "deny", Reason: testDenyReason, Code: "permission_denied", SourceAddr: "127.0.0.1",
			},
		},
		{
			name: "unauthenticated read",
			do: func(e *testEnv) error {
				_, err := e.pools.ListWorkPools(context.Background(), call("revoked", false, "", &ferryv1.ListWorkPoolsRequest{}))
				return wantCode(err, connect.CodeUnauthenticated)
			},
			want: &db.AuditEvent{
				Actor: audit.ActorAnonymous, ActorKind: audit.ActorAnonymous,
				Procedure: ferryv1connect.WorkPoolServiceListWorkPoolsProcedure,
				Decision:  "none", Reason: "the API key was revoked", Code: "unauthenticated", SourceAddr: "127.0.0.1",
			},
		},
		{
			name: "failed mutating call",
			do: func(e *testEnv) error {
				_, err := e.pools.DeleteWorkPool(context.Background(), call("good", false, "", &ferryv1.DeleteWorkPoolRequest{Name: "missing"}))
				return wantCode(err, connect.CodeNotFound)
			},
			// The message of a failure other than a denial may echo the
			// request, so it is not stored.
			want: &db.AuditEvent{
				Actor: testSubject, ActorKind: "api_key", Procedure: ferryv1connect.WorkPoolServiceDeleteWorkPoolProcedure,
				Resource: "work_pool/missing", Decision: "allow", Reason: "role admin", Code: "not_found", SourceAddr: "127.0.0.1",
			},
		},
		{
			name: "agent call",
			do: func(e *testEnv) error {
				_, err := e.agent.Heartbeat(context.Background(), call("good", false, "", &ferryv1.HeartbeatRequest{}))
				return wantCode(err, connect.CodeUnimplemented)
			},
		},
		{
			name: "denied agent call",
			do: func(e *testEnv) error {
				_, err := e.agent.Heartbeat(context.Background(), call("revoked", false, "", &ferryv1.HeartbeatRequest{}))
				return wantCode(err, connect.CodeUnauthenticated)
			},
			want: &db.AuditEvent{
				Actor: audit.ActorAnonymous, ActorKind: audit.ActorAnonymous, Procedure: ferryv1connect.AgentServiceHeartbeatProcedure,
				Decision: "none", Reason: "the API key was revoked", Code: "unauthenticated", SourceAddr: "127.0.0.1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if err := tt.do(e); err != nil {
				t.Fatal(err)
			}
			got := e.events(t)
			if tt.want == nil {
				if len(got) != 0 {
					t.Fatalf("stored %d events, want none: %+v", len(got), got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("stored %d events, want 1: %+v", len(got), got)
			}
			want := *tt.want
			want.Time = testStart
			if want.Actor != audit.ActorAnonymous {
				want.WorkspaceID = uuid.NullUUID{UUID: e.ws, Valid: true}
			}
			if diff := cmp.Diff(want, got[0], cmp.FilterPath(func(p cmp.Path) bool {
				f := p.Last().String()
				return f == ".ID" || f == ".RequestID"
			}, cmp.Ignore())); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			if got[0].RequestID == "" {
				t.Error("event has no request id")
			}
		})
	}
}

func wantCode(err error, code connect.Code) error {
	if got := connect.CodeOf(err); err == nil || got != code {
		return errors.New("got " + got.String() + " (" + errString(err) + "), want " + code.String())
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestRequestIDEchoed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	apply := &ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS}
	tests := []struct {
		name  string
		given string
		deny  bool
		// keep says the given id must come back; otherwise a new one must.
		keep bool
	}{
		{name: "sane id kept", given: "req-42.a_b:c", keep: true},
		{name: "sane id kept on error", given: "req-43", deny: true, keep: true},
		{name: "none given", given: ""},
		{name: "unsafe id replaced", given: "bad id\twith spaces"},
		{name: "long id replaced", given: strings.Repeat("a", 65)},
		{name: "unsafe id replaced on error", given: "<script>", deny: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := call("good", tt.deny, tt.given, apply)
			resp, err := e.pools.ApplyWorkPool(context.Background(), req)
			var header http.Header
			switch {
			case tt.deny:
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
					t.Fatalf("got %v, want PermissionDenied", err)
				}
				header = ce.Meta()
			case err != nil:
				t.Fatalf("ApplyWorkPool: %v", err)
			default:
				header = resp.Header()
			}
			got := header.Get(audit.RequestIDHeader)
			if tt.keep && got != tt.given {
				t.Fatalf("request id %q, want %q", got, tt.given)
			}
			if !tt.keep {
				if _, err := uuid.Parse(got); err != nil || got == tt.given {
					t.Fatalf("request id %q, want a new UUID", got)
				}
			}
			var stored int
			if err := e.store.Pool.QueryRow(context.Background(),
				`SELECT count(*) FROM audit_events WHERE request_id = $1`, got).Scan(&stored); err != nil {
				t.Fatalf("count events: %v", err)
			}
			if stored != 1 {
				t.Fatalf("%d events with request id %q, want 1", stored, got)
			}
		})
	}
}

func TestAuditEventsAppendOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, err := e.pools.ApplyWorkPool(context.Background(),
		call("good", false, "", &ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS}))
	if err != nil {
		t.Fatalf("ApplyWorkPool: %v", err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET actor = 'someone-else'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		t.Run(strings.Fields(stmt)[0], func(t *testing.T) {
			_, err := e.store.Pool.Exec(context.Background(), stmt)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Fatalf("%s: got %v, want insufficient_privilege (42501)", stmt, err)
			}
		})
	}
	got := e.events(t)
	if len(got) != 1 || got[0].Actor != testSubject {
		t.Fatalf("events after the attempts: %+v, want the one original", got)
	}
	var revoked bool
	if err := e.store.Pool.QueryRow(context.Background(),
		`SELECT NOT has_table_privilege('public', 'audit_events', 'UPDATE')
		    AND NOT has_table_privilege('public', 'audit_events', 'DELETE')
		    AND NOT has_table_privilege('public', 'audit_events', 'TRUNCATE')`).Scan(&revoked); err != nil {
		t.Fatalf("check privileges: %v", err)
	}
	if !revoked {
		t.Fatal("PUBLIC may still UPDATE, DELETE or TRUNCATE audit_events")
	}
}

// TestAuditWriteFailure checks that a call whose event cannot be stored
// keeps its result, and that the whole event reaches the log instead.
func TestAuditWriteFailure(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if _, err := e.store.Pool.Exec(context.Background(), `ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
		t.Fatalf("rename table: %v", err)
	}
	_, err := e.pools.ApplyWorkPool(context.Background(), call("good", false, "req-lost",
		&ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS}))
	if err != nil {
		t.Fatalf("ApplyWorkPool: %v, want success despite the audit failure", err)
	}
	logged := e.log.String()
	for _, part := range []string{`"msg":"audit event not stored"`, `"request_id":"req-lost"`, `"actor":"apikey:tester"`,
		`"procedure":"` + ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure + `"`, `"resource":"work_pool/etl"`} {
		if !strings.Contains(logged, part) {
			t.Errorf("log lacks %s:\n%s", part, logged)
		}
	}
}
