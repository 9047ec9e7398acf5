package main

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/internal/runseed"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Settings of the ui phase.
const (
	// uiRuns are seeded into the admin's workspace, over uiSpan.
	uiRuns = 1_000_000
	uiSpan = 30 * 24 * time.Hour
	// uiWarmup calls of each kind come first and are not timed.
	uiWarmup = 5
	// uiCalls calls of each kind are timed.
	uiCalls = 100
)

// uiDeployments are the deployments of the ui phase besides bench-ui; the
// seeded runs spread over all of them, bench-ui taking half.
var uiDeployments = []string{"bench-ui-b", "bench-ui-c", "bench-ui-d", "bench-ui-e"}

// uiPhase measures the calls of the web UI's runs page and dashboard with
// 1,000,000 runs in the workspace: ListRuns for the first page and after
// a filter change, and GetRunStats. The runs are written straight into the
// server's embedded PostgreSQL by package runseed, since creating them
// through the API would take minutes; the calls then go through the real
// Connect handlers over loopback, so each time is the server's time plus a
// loopback HTTP round trip, measured one call at a time.
func uiPhase(ctx context.Context, e *env) error {
	for i, name := range uiDeployments {
		if _, err := e.admin.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
			Name: name,
			Spec: &ferryv1.DeploymentSpec{Pool: "bench-ui", Command: []string{"true"},
				Description: "runs page of the load driver", Tags: []string{fmt.Sprintf("team-%d", i%2)}},
		})); err != nil {
			return fmt.Errorf("apply deployment %s: %w", name, err)
		}
	}
	if err := seedUIRuns(ctx, e); err != nil {
		return err
	}

	since := timestamppb.New(time.Now().Add(-11 * 24 * time.Hour))
	until := timestamppb.New(time.Now().Add(-10 * 24 * time.Hour))
	// Each timed filter-change call takes the next of these, as a person
	// clicking through the runs page's filters would.
	filters := []*ferryv1.ListRunsRequest{
		{States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_FAILED}},
		{Deployment: "bench-ui-e"},
		{Tags: []string{"shard-7"}},
		{CreatedAfter: since, CreatedBefore: until},
		{States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_FAILED, ferryv1.RunState_RUN_STATE_CRASHED}},
		{Deployment: "bench-ui-e", States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_CANCELLING}},
		{Tags: []string{"vip"}},
		{Tags: []string{"shard-7"}, States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_FAILED}},
		{Late: true},
		{CreatedAfter: since, CreatedBefore: until, Tags: []string{"shard-7"}},
	}
	list := func(req *ferryv1.ListRunsRequest) func(context.Context) error {
		return func(ctx context.Context) error {
			resp, err := e.admin.runs.ListRuns(ctx, connect.NewRequest(req))
			if err != nil {
				return fmt.Errorf("list runs: %w", err)
			}
			if len(resp.Msg.GetRuns()) == 0 {
				return fmt.Errorf("list runs with %v: no runs", req)
			}
			return nil
		}
	}
	first, err := timeCalls(ctx, func(int) func(context.Context) error { return list(&ferryv1.ListRunsRequest{}) })
	if err != nil {
		return err
	}
	change, err := timeCalls(ctx, func(i int) func(context.Context) error { return list(filters[i%len(filters)]) })
	if err != nil {
		return err
	}
	stats := func(req *ferryv1.GetRunStatsRequest) func(int) func(context.Context) error {
		return func(int) func(context.Context) error {
			return func(ctx context.Context) error {
				if _, err := e.admin.runs.GetRunStats(ctx, connect.NewRequest(req)); err != nil {
					return fmt.Errorf("get run stats: %w", err)
				}
				return nil
			}
		}
	}
	day, err := timeCalls(ctx, stats(&ferryv1.GetRunStatsRequest{}))
	if err != nil {
		return err
	}
	week, err := timeCalls(ctx, stats(&ferryv1.GetRunStatsRequest{
		Window: durationpb.New(7 * 24 * time.Hour), Bucket: durationpb.New(6 * time.Hour),
	}))
	if err != nil {
		return err
	}

	e.note("ui: %d runs in the workspace; %d timed calls of each kind, one at a time, after %d untimed", uiRuns, uiCalls, uiWarmup)
	e.note("ui: filter change cycles through %d filters: state, deployment, tag, time range and their combinations", len(filters))
	e.note("ui: run stats: last 24 h by hour; week: last 7 days by 6 hours")
	for _, f := range []struct {
		name    string
		samples []time.Duration
	}{
		{"ui_list_runs_first_page", first},
		{"ui_list_runs_filter_change", change},
		{"ui_run_stats", day},
		{"ui_run_stats_week", week},
	} {
		e.figure(f.name+"_p50_ms", millis(percentile(f.samples, 50)))
		e.figure(f.name+"_p99_ms", millis(percentile(f.samples, 99)))
	}
	return nil
}

// seedUIRuns writes uiRuns runs of the ui phase's deployments into the
// server's database.
func seedUIRuns(ctx context.Context, e *env) error {
	dbURL, err := e.srv.DatabaseURL()
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to the server's PostgreSQL: %w", err)
	}
	defer pool.Close()
	var ws uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT workspace_id FROM deployments WHERE name = 'bench-ui' AND delete_time IS NULL").
		Scan(&ws); err != nil {
		return fmt.Errorf("find the workspace of bench-ui: %w", err)
	}
	start := time.Now()
	if err := runseed.Seed(ctx, pool, runseed.Config{WorkspaceID: ws, Runs: uiRuns, End: time.Now(), Span: uiSpan}); err != nil {
		return err
	}
	e.note("ui: seeded %d runs over %s in %.1fs", uiRuns, uiSpan, time.Since(start).Seconds())
	return nil
}

// timeCalls makes uiWarmup untimed and then uiCalls timed calls, call i
// being made by next(i), one at a time, and returns the times of the timed.
func timeCalls(ctx context.Context, next func(i int) func(context.Context) error) ([]time.Duration, error) {
	for i := range uiWarmup {
		if err := next(i)(ctx); err != nil {
			return nil, err
		}
	}
	samples := make([]time.Duration, 0, uiCalls)
	for i := range uiCalls {
		call := next(i)
		start := time.Now()
		if err := call(ctx); err != nil {
			return nil, err
		}
		samples = append(samples, time.Since(start))
	}
	return samples, nil
}
