package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// scaleLogLines is how many lines the run of TestRunLogsAtScale has.
const scaleLogLines = 1_000_000

// scaleLogBufferBudget bounds the 8 kB pages one log query may touch: a
// page of 1,000 short lines fills about 10 heap pages and a few index
// pages. The log of scaleLogLines lines takes some 8,000 heap pages, so a
// query that read the log from its other end, or the whole table, fails.
const scaleLogBufferBudget = 200

// logPlanNode is the part of a node of EXPLAIN (FORMAT JSON) the log test
// reads.
type logPlanNode struct {
	planNode
	ScanDirection string        `json:"Scan Direction"`
	Plans         []logPlanNode `json:"Plans"`
}

// walk calls fn on n and every node below it.
func (n logPlanNode) walk(fn func(logPlanNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// streamPrincipal authenticates unary calls and streams alike as an admin
// API key of the workspace named by [poolTestWorkspaceHeader].
type streamPrincipal struct{}

func (streamPrincipal) withPrincipal(ctx context.Context, h http.Header) (context.Context, error) {
	ws, err := uuid.Parse(h.Get(poolTestWorkspaceHeader))
	if err != nil {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("no test workspace"))
	}
	return auth.WithPrincipal(ctx, auth.Principal{
		Kind: auth.KindAPIKey, WorkspaceID: ws, Subject: poolTestSubject, Role: "admin",
	}), nil
}

// WrapUnary sets the principal of unary calls.
func (p streamPrincipal) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := p.withPrincipal(ctx, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves clients alone.
func (streamPrincipal) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler sets the principal of streams.
func (p streamPrincipal) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := p.withPrincipal(ctx, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// workspaceHeader sets the test workspace on every call of a client.
type workspaceHeader uuid.UUID

// WrapUnary sets the header on unary calls.
func (w workspaceHeader) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set(poolTestWorkspaceHeader, uuid.UUID(w).String())
		return next(ctx, req)
	}
}

// WrapStreamingClient sets the header on streams.
func (w workspaceHeader) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set(poolTestWorkspaceHeader, uuid.UUID(w).String())
		return conn
	}
}

// WrapStreamingHandler leaves handlers alone.
func (workspaceHeader) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestRunLogsAtScale stores 1,000,000 lines of one run and proves, from
// the plans PostgreSQL chooses, that reading the log's tail, paging it
// backward and forward, and starting a follow at the tail are range scans
// of the primary key of run_log_lines in the right direction: for each
// call it runs the statements the handler issued under EXPLAIN (ANALYZE,
// BUFFERS, FORMAT JSON), planned both with their values and generically as
// a prepared statement may be, and requires that no node scans the table
// sequentially and that no more than scaleLogBufferBudget pages are
// touched. Timing belongs to `make bench`.
func TestRunLogsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 1,000,000 log lines; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()

	rec := &statementRecorder{prefix: "LogLines"}
	cfg, err := pgxpool.ParseConfig(dbtest.ConnString(t))
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.AfterConnect = store.RegisterUUID
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	ws, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "logs", Now: fake.Now()})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The listener is not run: the follows below end by cancellation.
	listener := notify.NewListener(pool, log, transition.ChannelLogs, transition.ChannelRunChanged)
	opts := connect.WithInterceptors(streamPrincipal{})
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&WorkPoolServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&DeploymentServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewRunServiceHandler(&RunServer{Store: st, Clock: fake, Log: log, Listener: listener}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clientOpts := connect.WithInterceptors(workspaceHeader(ws.ID))
	pools := ferryv1connect.NewWorkPoolServiceClient(srv.Client(), srv.URL, clientOpts)
	deployments := ferryv1connect.NewDeploymentServiceClient(srv.Client(), srv.URL, clientOpts)
	runs := ferryv1connect.NewRunServiceClient(srv.Client(), srv.URL, clientOpts)

	if _, err := pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "batch", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		t.Fatalf("ApplyWorkPool: %v", err)
	}
	if _, err := deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: "chatty", Spec: &ferryv1.DeploymentSpec{Pool: "batch", Command: []string{"true"}},
	})); err != nil {
		t.Fatalf("ApplyDeployment: %v", err)
	}
	var ids []uuid.UUID
	for range 2 {
		created, err := runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{
			Run: &ferryv1.RunTemplate{Deployment: "chatty"},
		}))
		if err != nil {
			t.Fatalf("CreateRun: %v", err)
		}
		ids = append(ids, uuid.MustParse(created.Msg.GetRun().GetId()))
	}
	// The run under test wrote scaleLogLines lines in attempt 1 and a few in
	// attempt 2; a neighbour run's lines sit on both sides of it in the
	// index.
	id := ids[0]
	start := time.Now()
	for _, part := range []struct {
		run     uuid.UUID
		attempt int
		lines   int
	}{{id, 1, scaleLogLines}, {id, 2, 50}, {ids[1], 1, 100_000}} {
		if _, err := pool.Exec(ctx, `
			INSERT INTO run_log_lines (run_id, attempt, seq, stream, text, time)
			SELECT $1, $2, g, 1, 'line ' || g || ' of the run', $3
			FROM generate_series(1, $4::bigint) g`,
			part.run, part.attempt, fake.Now(), part.lines); err != nil {
			t.Fatalf("insert log lines: %v", err)
		}
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE run_log_lines"); err != nil {
		t.Fatalf("vacuum: %v", err)
	}
	t.Logf("stored %d log lines in %s", scaleLogLines, time.Since(start).Round(time.Second))

	list := func(req *ferryv1.ListRunLogsRequest) *ferryv1.ListRunLogsResponse {
		t.Helper()
		req.Id = id.String()
		resp, err := runs.ListRunLogs(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("ListRunLogs: %v", err)
		}
		return resp.Msg
	}
	// Tokens deep inside the log, as a reader paging far would hold.
	tail := list(&ferryv1.ListRunLogsRequest{Backward: true, PageSize: 1000})
	middle := list(&ferryv1.ListRunLogsRequest{Attempt: 1, Backward: true, PageSize: 10000})
	for range 40 {
		middle = list(&ferryv1.ListRunLogsRequest{Attempt: 1, Backward: true, PageSize: 10000, PageToken: middle.GetNextPageToken()})
	}
	forward := list(&ferryv1.ListRunLogsRequest{PageSize: 10000})
	for range 40 {
		forward = list(&ferryv1.ListRunLogsRequest{PageSize: 10000, PageToken: forward.GetNextPageToken()})
	}
	rec.take()

	cases := []struct {
		name string
		req  *ferryv1.ListRunLogsRequest
		// direction is the scan direction the queries must take.
		direction string
		first     string
	}{
		{"tail", &ferryv1.ListRunLogsRequest{Backward: true}, "Backward", "line 999051 of the run"},
		{"page before the tail", &ferryv1.ListRunLogsRequest{Backward: true, PageSize: 1000, PageToken: tail.GetNextPageToken()}, "Backward", "line 998051 of the run"},
		{"backward page in the middle", &ferryv1.ListRunLogsRequest{Backward: true, Attempt: 1, PageToken: middle.GetNextPageToken()}, "Backward", "line 589001 of the run"},
		{"tail of an earlier attempt", &ferryv1.ListRunLogsRequest{Backward: true, Attempt: 1}, "Backward", "line 999001 of the run"},
		{"first page", &ferryv1.ListRunLogsRequest{}, "Forward", "line 1 of the run"},
		{"forward page in the middle", &ferryv1.ListRunLogsRequest{PageToken: forward.GetNextPageToken()}, "Forward", "line 410001 of the run"},
		{"later attempt from the start", &ferryv1.ListRunLogsRequest{Attempt: 2}, "Forward", "line 1 of the run"},
	}
	for _, tc := range cases {
		t.Run("ListRunLogs/"+tc.name, func(t *testing.T) {
			resp := list(tc.req)
			if len(resp.GetLines()) == 0 || resp.GetLines()[0].GetText() != tc.first {
				t.Fatalf("page starts with %q, want %q", firstText(resp.GetLines()), tc.first)
			}
			checkLogPlans(t, pool, rec.take(), tc.direction)
		})
	}

	t.Run("FollowRunLogs/tail", func(t *testing.T) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := runs.FollowRunLogs(fctx, connect.NewRequest(&ferryv1.FollowRunLogsRequest{
			Id: id.String(), TailLines: 1000,
		}))
		if err != nil {
			t.Fatalf("FollowRunLogs: %v", err)
		}
		if !stream.Receive() {
			t.Fatalf("follow ended without a message: %v", stream.Err())
		}
		lines := stream.Msg().GetLines()
		if len(lines) != 1000 || lines[0].GetAttempt() != 1 || lines[0].GetSeq() != scaleLogLines-949 {
			t.Fatalf("follow starts with %d lines from %d/%d, want 1000 from 1/%d",
				len(lines), lines[0].GetAttempt(), lines[0].GetSeq(), scaleLogLines-949)
		}
		cancel()
		stream.Close()
		stmts := rec.take()
		var tailOnly []recordedStatement
		for _, s := range stmts {
			if s.name == "LogLinesListBefore" {
				tailOnly = append(tailOnly, s)
			}
		}
		if len(tailOnly) != 1 {
			t.Fatalf("follow issued %d tail queries, want 1", len(tailOnly))
		}
		checkLogPlans(t, pool, tailOnly, "Backward")
	})
}

// firstText returns the text of the first line, or "" for none.
func firstText(lines []*ferryv1.LogLine) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0].GetText()
}

// checkLogPlans explains each statement with its recorded arguments, once
// planned for those values and once generically, and checks that it reads
// run_log_lines through its primary key in direction within
// scaleLogBufferBudget pages.
func checkLogPlans(t *testing.T, pool *pgxpool.Pool, stmts []recordedStatement, direction string) {
	t.Helper()
	if len(stmts) == 0 {
		t.Fatal("the call issued no statement on run_log_lines")
	}
	ctx := context.Background()
	for _, s := range stmts {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			var raw []byte
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
					return err
				}
				return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+s.sql, s.args...).Scan(&raw)
			})
			if err != nil {
				t.Fatalf("explain %s: %v", s.name, err)
			}
			var plans []struct {
				Plan logPlanNode `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
				t.Fatalf("decode plan of %s: %v", s.name, err)
			}
			var scans []string
			plans[0].Plan.walk(func(n logPlanNode) {
				if n.RelationName != "run_log_lines" {
					return
				}
				if n.IndexName != "run_log_lines_pkey" || n.ScanDirection != direction {
					t.Errorf("%s (%s) reads run_log_lines by %s %q %s, want a %s scan of run_log_lines_pkey:\n%s",
						s.name, mode, n.NodeType, n.IndexName, n.ScanDirection, direction, raw)
				}
				scans = append(scans, n.NodeType)
			})
			if len(scans) == 0 {
				t.Errorf("%s (%s) reads no run_log_lines:\n%s", s.name, mode, raw)
			}
			pages := plans[0].Plan.SharedHit + plans[0].Plan.SharedRead
			if pages > scaleLogBufferBudget {
				t.Errorf("%s (%s) touches %d pages, more than %d:\n%s", s.name, mode, pages, scaleLogBufferBudget, raw)
			}
			t.Logf("%s (%s): %d pages, %s %s", s.name, mode, pages, strings.Join(scans, ", "), direction)
		}
	}
}
