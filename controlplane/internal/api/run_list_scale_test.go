package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/internal/runseed"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// scaleRuns is the size of the runs table of TestRunListingAtScale.
const scaleRuns = 1_000_000

// scaleBufferBudget bounds the 8 kB pages one query of the runs page or
// the dashboard may touch (shared buffers hit or read): about 20 MB, a
// twentieth of the table of scaleRuns runs (some 40,000 pages of heap
// alone). It is a count of work, not of time, so it holds on any machine;
// a query that fell back to reading the table would need the whole table.
const scaleBufferBudget = 2500

// statementRecorder is a pgx tracer that keeps the sqlc statements the
// handler issues whose names start with prefix, such as "Run" for the runs
// table or "LogLines" for the log.
type statementRecorder struct {
	prefix string
	mu     sync.Mutex
	seen   []recordedStatement
}

// recordedStatement is one statement and its arguments.
type recordedStatement struct {
	name string
	sql  string
	args []any
}

// TraceQueryStart records the statement when it is a sqlc query named with
// the recorder's prefix.
func (r *statementRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	name, ok := strings.CutPrefix(data.SQL, "-- name: ")
	if !ok || !strings.HasPrefix(name, r.prefix) {
		return ctx
	}
	name, _, _ = strings.Cut(name, " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, recordedStatement{name: name, sql: data.SQL, args: data.Args})
	return ctx
}

// TraceQueryEnd does nothing.
func (r *statementRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements recorded since the last take.
func (r *statementRecorder) take() []recordedStatement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// planNode is the part of a node of EXPLAIN (FORMAT JSON) the test reads.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	SharedHit    int64      `json:"Shared Hit Blocks"`
	SharedRead   int64      `json:"Shared Read Blocks"`
	Plans        []planNode `json:"Plans"`
}

// walk calls fn on n and every node below it.
func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// TestRunListingAtScale loads 1,000,000 runs into one workspace and proves,
// from the plans PostgreSQL chooses, that every filter of the runs page and
// the dashboard's figures are served by indexes: for each call it runs the
// very statements the handler issued under EXPLAIN (ANALYZE, BUFFERS,
// FORMAT JSON) and requires that no node scans runs sequentially, that an
// index of runs is read, and that no more than scaleBufferBudget pages are
// touched. The timing of the same calls is measured by `make bench`.
func TestRunListingAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1,000,000 runs; skipped with -short")
	}
	t.Parallel()
	ctx := context.Background()

	rec := &statementRecorder{prefix: "Run"}
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
	ws, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "scale", Now: fake.Now()})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := connect.WithInterceptors(poolTestPrincipalInterceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&WorkPoolServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&DeploymentServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewRunServiceHandler(&RunServer{Store: st, Clock: fake, Log: log}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clientOpts := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(poolTestWorkspaceHeader, ws.ID.String())
			return next(ctx, req)
		}
	}))
	pools := ferryv1connect.NewWorkPoolServiceClient(srv.Client(), srv.URL, clientOpts)
	deployments := ferryv1connect.NewDeploymentServiceClient(srv.Client(), srv.URL, clientOpts)
	runs := ferryv1connect.NewRunServiceClient(srv.Client(), srv.URL, clientOpts)

	if _, err := pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "batch", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		t.Fatalf("ApplyWorkPool: %v", err)
	}
	// Five deployments take 50%, 25%, 12.5%, 6.25% and 6.25% of the runs.
	for i, name := range []string{"dep-a", "dep-b", "dep-c", "dep-d", "dep-e"} {
		if _, err := deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
			Name: name,
			Spec: &ferryv1.DeploymentSpec{Pool: "batch", Command: []string{"true"}, Tags: []string{"team-" + string(rune('x'+i%2))}},
		})); err != nil {
			t.Fatalf("ApplyDeployment(%s): %v", name, err)
		}
	}
	indexesBefore := runIndexes(t, pool)
	start := time.Now()
	if err := runseed.Seed(ctx, pool, runseed.Config{
		WorkspaceID: ws.ID, Runs: scaleRuns, End: fake.Now(), Span: 30 * 24 * time.Hour,
	}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("loaded %d runs in %s", scaleRuns, time.Since(start).Round(time.Second))
	// The seeding rebuilt every index the migrations made, and only those.
	if diff := cmp.Diff(indexesBefore, runIndexes(t, pool)); diff != "" {
		t.Fatalf("indexes of runs after seeding (-before +after):\n%s", diff)
	}
	rec.take()

	// A second page of the newest runs, as the page's "next" button asks.
	first, err := runs.ListRuns(ctx, connect.NewRequest(&ferryv1.ListRunsRequest{}))
	if err != nil {
		t.Fatalf("ListRuns: %v", err)
	}
	rec.take()

	now := fake.Now()
	day := func(daysAgo int) (*timestamppb.Timestamp, *timestamppb.Timestamp) {
		end := now.Add(-time.Duration(daysAgo) * 24 * time.Hour)
		return timestamppb.New(end.Add(-24 * time.Hour)), timestamppb.New(end)
	}
	after, before := day(10)
	states := func(s ...ferryv1.RunState) []ferryv1.RunState { return s }
	const (
		scheduled  = ferryv1.RunState_RUN_STATE_SCHEDULED
		pending    = ferryv1.RunState_RUN_STATE_PENDING
		running    = ferryv1.RunState_RUN_STATE_RUNNING
		completed  = ferryv1.RunState_RUN_STATE_COMPLETED
		failed     = ferryv1.RunState_RUN_STATE_FAILED
		crashed    = ferryv1.RunState_RUN_STATE_CRASHED
		cancelling = ferryv1.RunState_RUN_STATE_CANCELLING
	)
	lists := []struct {
		name string
		req  *ferryv1.ListRunsRequest
	}{
		{"first page", &ferryv1.ListRunsRequest{}},
		{"second page", &ferryv1.ListRunsRequest{PageToken: first.Msg.GetNextPageToken()}},
		{"page of 1000", &ferryv1.ListRunsRequest{PageSize: 1000}},
		{"common state", &ferryv1.ListRunsRequest{States: states(completed)}},
		{"state", &ferryv1.ListRunsRequest{States: states(failed)}},
		{"rare state", &ferryv1.ListRunsRequest{States: states(cancelling)}},
		{"failed states", &ferryv1.ListRunsRequest{States: states(failed, crashed)}},
		{"active states", &ferryv1.ListRunsRequest{States: states(pending, running, cancelling)}},
		{"deployment", &ferryv1.ListRunsRequest{Deployment: "dep-a"}},
		{"small deployment", &ferryv1.ListRunsRequest{Deployment: "dep-e"}},
		{"deployment and rare state", &ferryv1.ListRunsRequest{Deployment: "dep-e", States: states(cancelling)}},
		{"deployment and states", &ferryv1.ListRunsRequest{Deployment: "dep-e", States: states(failed, crashed)}},
		{"common tag", &ferryv1.ListRunsRequest{Tags: []string{"env-prod"}}},
		{"deployment tag", &ferryv1.ListRunsRequest{Tags: []string{"team-y"}}},
		{"tag", &ferryv1.ListRunsRequest{Tags: []string{"shard-7"}}},
		{"rare tag", &ferryv1.ListRunsRequest{Tags: []string{"vip"}}},
		{"two tags", &ferryv1.ListRunsRequest{Tags: []string{"env-dev", "shard-7"}}},
		{"tag and state", &ferryv1.ListRunsRequest{Tags: []string{"shard-7"}, States: states(failed)}},
		{"tag and states", &ferryv1.ListRunsRequest{Tags: []string{"shard-7"}, States: states(failed, crashed)}},
		{"tag and deployment", &ferryv1.ListRunsRequest{Tags: []string{"shard-7"}, Deployment: "dep-e"}},
		{"time range", &ferryv1.ListRunsRequest{CreatedAfter: after, CreatedBefore: before}},
		{"since", &ferryv1.ListRunsRequest{CreatedAfter: after}},
		{"time range and state", &ferryv1.ListRunsRequest{CreatedAfter: after, CreatedBefore: before, States: states(crashed)}},
		{"time range and deployment", &ferryv1.ListRunsRequest{CreatedAfter: after, CreatedBefore: before, Deployment: "dep-e"}},
		{"time range and tag", &ferryv1.ListRunsRequest{CreatedAfter: after, CreatedBefore: before, Tags: []string{"shard-7"}}},
		{"late", &ferryv1.ListRunsRequest{Late: true}},
		{"late of a deployment", &ferryv1.ListRunsRequest{Late: true, Deployment: "dep-e"}},
		{"late and states", &ferryv1.ListRunsRequest{Late: true, States: states(scheduled, failed)}},
	}
	for _, tc := range lists {
		t.Run("ListRuns/"+tc.name, func(t *testing.T) {
			resp, err := runs.ListRuns(ctx, connect.NewRequest(tc.req))
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			if len(resp.Msg.GetRuns()) == 0 {
				t.Fatalf("no runs listed; the case proves nothing")
			}
			checkPlans(t, pool, rec.take())
		})
	}

	stats := []struct {
		name string
		req  *ferryv1.GetRunStatsRequest
	}{
		{"last day by hour", &ferryv1.GetRunStatsRequest{}},
		{"last week by 6 hours", &ferryv1.GetRunStatsRequest{
			Window: durationpb.New(7 * 24 * time.Hour), Bucket: durationpb.New(6 * time.Hour),
		}},
	}
	for _, tc := range stats {
		t.Run("GetRunStats/"+tc.name, func(t *testing.T) {
			resp, err := runs.GetRunStats(ctx, connect.NewRequest(tc.req))
			if err != nil {
				t.Fatalf("GetRunStats: %v", err)
			}
			var total int64
			for _, b := range resp.Msg.GetBuckets() {
				total += b.GetTotal()
			}
			if total == 0 || resp.Msg.GetLateRuns() == 0 || resp.Msg.GetFailedLastDay() == 0 {
				t.Fatalf("runs %d, late %d, failed %d: want all above zero", total,
					resp.Msg.GetLateRuns(), resp.Msg.GetFailedLastDay())
			}
			checkPlans(t, pool, rec.take())
		})
	}
}

// runIndexes returns the definitions of the indexes of runs, sorted.
func runIndexes(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		"SELECT indexdef FROM pg_indexes WHERE tablename = 'runs' ORDER BY indexdef")
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	return defs
}

// checkPlans explains each statement with its recorded arguments, planned
// for them as the handler's transaction plans it, and checks that it reads
// runs through an index within scaleBufferBudget pages.
func checkPlans(t *testing.T, pool *pgxpool.Pool, stmts []recordedStatement) {
	t.Helper()
	if len(stmts) == 0 {
		t.Fatal("the call issued no statement on runs")
	}
	ctx := context.Background()
	for _, s := range stmts {
		var raw []byte
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+s.sql, s.args...).Scan(&raw)
		})
		if err != nil {
			t.Fatalf("explain %s: %v", s.name, err)
		}
		var plans []struct {
			Plan planNode `json:"Plan"`
		}
		if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("decode plan of %s: %v", s.name, err)
		}
		var indexes []string
		plans[0].Plan.walk(func(n planNode) {
			if n.NodeType == "Seq Scan" && n.RelationName == "runs" {
				t.Errorf("%s scans runs sequentially", s.name)
			}
			if strings.HasPrefix(n.IndexName, "runs_") {
				indexes = append(indexes, n.IndexName)
			}
		})
		if len(indexes) == 0 {
			t.Errorf("%s reads no index of runs:\n%s", s.name, raw)
		}
		pages := plans[0].Plan.SharedHit + plans[0].Plan.SharedRead
		if pages > scaleBufferBudget {
			t.Errorf("%s touches %d pages, more than %d:\n%s", s.name, pages, scaleBufferBudget, raw)
		}
		t.Logf("%s: %d pages through %s", s.name, pages, strings.Join(indexes, ", "))
	}
}
