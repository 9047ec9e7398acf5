package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/validate"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// runListLateAfter is the late-after margin of the run listing tests.
const runListLateAfter = time.Minute

// runListEnv serves RunService, besides the services of [poolTestEnv], with
// the request validator of the real server in front of it.
type runListEnv struct {
	*poolTestEnv
	runs      ferryv1connect.RunServiceClient
	otherRuns ferryv1connect.RunServiceClient
}

func setupRunListEnv(t *testing.T) *runListEnv {
	t.Helper()
	e := &runListEnv{poolTestEnv: setupPoolEnv(t)}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewRunServiceHandler(&RunServer{
		Store: e.store, Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LateAfter: runListLateAfter,
	}, connect.WithInterceptors(poolTestPrincipalInterceptor(), validate.Interceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := func(ws uuid.UUID) ferryv1connect.RunServiceClient {
		return ferryv1connect.NewRunServiceClient(e.http, srv.URL, connect.WithInterceptors(
			connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set(poolTestWorkspaceHeader, ws.String())
					return next(ctx, req)
				}
			})))
	}
	e.runs, e.otherRuns = client(e.ws), client(e.other)
	return e
}

// createRun creates a run through the API and returns its id.
func (e *runListEnv) createRun(t *testing.T, runs ferryv1connect.RunServiceClient, tmpl *ferryv1.RunTemplate) string {
	t.Helper()
	resp, err := runs.CreateRun(context.Background(), connect.NewRequest(&ferryv1.CreateRunRequest{Run: tmpl}))
	if err != nil {
		t.Fatalf("CreateRun(%s): %v", tmpl.GetDeployment(), err)
	}
	return resp.Msg.GetRun().GetId()
}

// setState moves a run to a state directly in the database, with the
// start and end times the state machine would have written at now.
func (e *runListEnv) setState(t *testing.T, id, state, name string) {
	t.Helper()
	now := e.clock.Now()
	var start, end *time.Time
	switch state {
	case "PENDING", "RUNNING", "CANCELLING":
		start = &now
	case "COMPLETED", "FAILED", "CRASHED", "CANCELLED":
		start, end = &now, &now
	}
	_, err := e.store.Pool.Exec(context.Background(),
		`UPDATE runs SET state = $2, state_name = $3, start_time = $4, end_time = $5 WHERE id = $1`,
		id, state, name, start, end)
	if err != nil {
		t.Fatalf("set state of run %s: %v", id, err)
	}
}

// list calls ListRuns and returns the ids of the page and the next token.
func list(t *testing.T, runs ferryv1connect.RunServiceClient, req *ferryv1.ListRunsRequest) ([]string, string, error) {
	t.Helper()
	resp, err := runs.ListRuns(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, "", err
	}
	var ids []string
	for _, r := range resp.Msg.GetRuns() {
		ids = append(ids, r.GetId())
	}
	return ids, resp.Msg.GetNextPageToken(), nil
}

// runListFixture is the runs TestListRunsFilters lists, by name.
type runListFixture struct {
	ids     map[string]string
	created map[string]time.Time
}

// seedRunList creates, a minute apart, the runs of TestListRunsFilters:
//
//	r0 etl    SCHEDULED, Late by the end   tags team-data nightly
//	r1 report COMPLETED                    tags -
//	r2 etl    FAILED                       tags team-data
//	r3 report RUNNING                      tags nightly vip
//	r4 etl    SCHEDULED, starts in a day   tags team-data
//	r5 etl    SCHEDULED, awaiting a retry  tags team-data
//	r6 report CRASHED                      tags -
//
// and one run of etl in the other workspace, which must never be listed.
func seedRunList(t *testing.T, e *runListEnv) runListFixture {
	t.Helper()
	for _, ws := range []poolTestClients{e.poolTestClients, e.clientsFor(e.other)} {
		ws.applyPool(t, "batch", poolTestProcess)
		ws.applyDeployment(t, "etl", &ferryv1.DeploymentSpec{Pool: "batch", Command: []string{"true"}, Tags: []string{"team-data"}})
		ws.applyDeployment(t, "report", &ferryv1.DeploymentSpec{Pool: "batch", Command: []string{"true"}})
	}
	e.createRun(t, e.otherRuns, &ferryv1.RunTemplate{Deployment: "etl", Tags: []string{"nightly", "vip"}})

	f := runListFixture{ids: map[string]string{}, created: map[string]time.Time{}}
	add := func(name string, tmpl *ferryv1.RunTemplate, state, stateName string) {
		e.clock.Advance(time.Minute)
		id := e.createRun(t, e.runs, tmpl)
		if state != "SCHEDULED" || stateName != "Scheduled" {
			e.setState(t, id, state, stateName)
		}
		f.ids[name], f.created[name] = id, e.clock.Now()
	}
	add("r0", &ferryv1.RunTemplate{Deployment: "etl", Tags: []string{"nightly", "team-data"}}, "SCHEDULED", "Scheduled")
	add("r1", &ferryv1.RunTemplate{Deployment: "report"}, "COMPLETED", "Completed")
	add("r2", &ferryv1.RunTemplate{Deployment: "etl"}, "FAILED", "Failed")
	add("r3", &ferryv1.RunTemplate{Deployment: "report", Tags: []string{"vip", "nightly"}}, "RUNNING", "Running")
	add("r4", &ferryv1.RunTemplate{Deployment: "etl",
		ExpectedStartTime: timestamppb.New(e.clock.Now().Add(24 * time.Hour))}, "SCHEDULED", "Scheduled")
	add("r5", &ferryv1.RunTemplate{Deployment: "etl"}, "SCHEDULED", "AwaitingRetry")
	add("r6", &ferryv1.RunTemplate{Deployment: "report"}, "CRASHED", "Crashed")
	// r0 is now 7 minutes past its expected start, r5 and r6 less than
	// runListLateAfter; r5 would be Late but awaits a retry.
	return f
}

func TestListRunsFilters(t *testing.T) {
	t.Parallel()
	e := setupRunListEnv(t)
	f := seedRunList(t, e)
	ids := func(names ...string) []string {
		out := make([]string, 0, len(names))
		for _, n := range names {
			out = append(out, f.ids[n])
		}
		return out
	}
	const (
		scheduled = ferryv1.RunState_RUN_STATE_SCHEDULED
		failed    = ferryv1.RunState_RUN_STATE_FAILED
		crashed   = ferryv1.RunState_RUN_STATE_CRASHED
	)
	all := []ferryv1.RunState{
		scheduled, ferryv1.RunState_RUN_STATE_PENDING, ferryv1.RunState_RUN_STATE_RUNNING,
		ferryv1.RunState_RUN_STATE_COMPLETED, failed, crashed,
		ferryv1.RunState_RUN_STATE_CANCELLING, ferryv1.RunState_RUN_STATE_CANCELLED,
	}
	tests := []struct {
		name string
		req  *ferryv1.ListRunsRequest
		want []string
	}{
		{"no filter", &ferryv1.ListRunsRequest{}, ids("r6", "r5", "r4", "r3", "r2", "r1", "r0")},
		{"one state", &ferryv1.ListRunsRequest{States: []ferryv1.RunState{failed}}, ids("r2")},
		{"two states", &ferryv1.ListRunsRequest{States: []ferryv1.RunState{crashed, failed}}, ids("r6", "r2")},
		{"a state twice", &ferryv1.ListRunsRequest{States: []ferryv1.RunState{failed, failed}}, ids("r2")},
		{"every state", &ferryv1.ListRunsRequest{States: all}, ids("r6", "r5", "r4", "r3", "r2", "r1", "r0")},
		{"deployment", &ferryv1.ListRunsRequest{Deployment: "etl"}, ids("r5", "r4", "r2", "r0")},
		{"deployment and state", &ferryv1.ListRunsRequest{Deployment: "etl", States: []ferryv1.RunState{scheduled}},
			ids("r5", "r4", "r0")},
		{"deployment and states", &ferryv1.ListRunsRequest{Deployment: "report", States: []ferryv1.RunState{failed, crashed}},
			ids("r6")},
		{"deployment's tag", &ferryv1.ListRunsRequest{Tags: []string{"team-data"}}, ids("r5", "r4", "r2", "r0")},
		{"run's tag", &ferryv1.ListRunsRequest{Tags: []string{"nightly"}}, ids("r3", "r0")},
		{"two tags", &ferryv1.ListRunsRequest{Tags: []string{"vip", "nightly"}}, ids("r3")},
		{"tag nobody has", &ferryv1.ListRunsRequest{Tags: []string{"weekly"}}, nil},
		{"tag and deployment", &ferryv1.ListRunsRequest{Tags: []string{"nightly"}, Deployment: "report"}, ids("r3")},
		{"tag and states", &ferryv1.ListRunsRequest{Tags: []string{"team-data"}, States: []ferryv1.RunState{failed, scheduled}},
			ids("r5", "r4", "r2", "r0")},
		{"late", &ferryv1.ListRunsRequest{Late: true}, ids("r0")},
		{"late and states", &ferryv1.ListRunsRequest{Late: true, States: []ferryv1.RunState{failed, scheduled}}, ids("r0")},
		{"late and another state", &ferryv1.ListRunsRequest{Late: true, States: []ferryv1.RunState{failed}}, nil},
		{"created range", &ferryv1.ListRunsRequest{
			CreatedAfter: timestamppb.New(f.created["r2"]), CreatedBefore: timestamppb.New(f.created["r5"]),
		}, ids("r4", "r3", "r2")},
		{"created range, state and tag", &ferryv1.ListRunsRequest{
			CreatedAfter: timestamppb.New(f.created["r1"]), CreatedBefore: timestamppb.New(f.created["r6"]),
			States: []ferryv1.RunState{failed}, Tags: []string{"team-data"},
		}, ids("r2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, next, err := list(t, e.runs, tc.req)
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
			if next != "" {
				t.Errorf("next_page_token = %q on the only page", next)
			}
		})
	}

	t.Run("late names", func(t *testing.T) {
		t.Parallel()
		resp, err := e.runs.ListRuns(context.Background(), connect.NewRequest(&ferryv1.ListRunsRequest{Late: true}))
		if err != nil {
			t.Fatalf("ListRuns: %v", err)
		}
		for _, r := range resp.Msg.GetRuns() {
			if r.GetStateName() != "Late" {
				t.Errorf("run %s listed as late is named %q", r.GetId(), r.GetStateName())
			}
		}
	})
	t.Run("tags are stored once", func(t *testing.T) {
		t.Parallel()
		resp, err := e.runs.GetRun(context.Background(), connect.NewRequest(&ferryv1.GetRunRequest{Id: f.ids["r0"]}))
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if diff := cmp.Diff([]string{"team-data", "nightly"}, resp.Msg.GetRun().GetTags()); diff != "" {
			t.Errorf("tags of r0 (-want +got):\n%s", diff)
		}
	})
}

func TestListRunsPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  *ferryv1.ListRunsRequest
		want []string // names of fixture runs
	}{
		{"all", &ferryv1.ListRunsRequest{PageSize: 2}, []string{"r6", "r5", "r4", "r3", "r2", "r1", "r0"}},
		{"deployment", &ferryv1.ListRunsRequest{PageSize: 1, Deployment: "etl"}, []string{"r5", "r4", "r2", "r0"}},
		{"states", &ferryv1.ListRunsRequest{PageSize: 1, States: []ferryv1.RunState{
			ferryv1.RunState_RUN_STATE_SCHEDULED, ferryv1.RunState_RUN_STATE_FAILED}}, []string{"r5", "r4", "r2", "r0"}},
		{"tag", &ferryv1.ListRunsRequest{PageSize: 1, Tags: []string{"team-data"}}, []string{"r5", "r4", "r2", "r0"}},
		{"late", &ferryv1.ListRunsRequest{PageSize: 1, Late: true}, []string{"r0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setupRunListEnv(t)
			f := seedRunList(t, e)
			var want, got []string
			for _, n := range tc.want {
				want = append(want, f.ids[n])
			}
			req := tc.req
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("more than %d pages", len(want))
				}
				page, next, err := list(t, e.runs, req)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				if pages == 0 {
					// A run created meanwhile, matching every filter but
					// late and newer than every listed run, moves nothing
					// on the later pages.
					e.clock.Advance(time.Second)
					e.createRun(t, e.runs, &ferryv1.RunTemplate{Deployment: "etl"})
				}
				req.PageToken = next
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("runs over all pages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListRunsRejects(t *testing.T) {
	t.Parallel()
	e := setupRunListEnv(t)
	f := seedRunList(t, e)
	_, token, err := list(t, e.runs, &ferryv1.ListRunsRequest{PageSize: 1, Deployment: "etl"})
	if err != nil || token == "" {
		t.Fatalf("first page: token %q, %v", token, err)
	}
	if len(token) > 256 {
		t.Fatalf("token of %d bytes exceeds page_token's limit of 256", len(token))
	}
	// Change one character in the middle of the token.
	mid := len(token) / 2
	flip := byte('A')
	if token[mid] == 'A' {
		flip = 'B'
	}
	tampered := token[:mid] + string(flip) + token[mid+1:]
	created := timestamppb.New(f.created["r3"])

	tests := []struct {
		name string
		req  *ferryv1.ListRunsRequest
		code connect.Code
		msg  string
	}{
		{"unknown deployment", &ferryv1.ListRunsRequest{Deployment: "nope"}, connect.CodeNotFound, `deployment "nope" not found`},
		{"unspecified state", &ferryv1.ListRunsRequest{States: []ferryv1.RunState{0}}, connect.CodeInvalidArgument, "states[0]"},
		{"unknown state", &ferryv1.ListRunsRequest{States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_FAILED, 99}},
			connect.CodeInvalidArgument, "states[1]"},
		{"tag with a space", &ferryv1.ListRunsRequest{Tags: []string{"a b"}}, connect.CodeInvalidArgument, "tags[0]"},
		{"too many tags", &ferryv1.ListRunsRequest{Tags: strings.Fields("a b c d e f g h i")}, connect.CodeInvalidArgument, "tags"},
		{"empty range", &ferryv1.ListRunsRequest{CreatedAfter: created, CreatedBefore: created},
			connect.CodeInvalidArgument, "created_before: must be later than created_after"},
		{"invalid time", &ferryv1.ListRunsRequest{CreatedAfter: &timestamppb.Timestamp{Nanos: -1}},
			connect.CodeInvalidArgument, "created_after"},
		{"garbage token", &ferryv1.ListRunsRequest{PageToken: "forged"}, connect.CodeInvalidArgument, "page_token"},
		{"tampered token", &ferryv1.ListRunsRequest{Deployment: "etl", PageToken: tampered}, connect.CodeInvalidArgument, "page_token"},
		{"truncated token", &ferryv1.ListRunsRequest{Deployment: "etl", PageToken: token[:len(token)-3]}, connect.CodeInvalidArgument, "page_token"},
		{"token of other filters", &ferryv1.ListRunsRequest{Deployment: "report", PageToken: token},
			connect.CodeInvalidArgument, "page_token: was returned for other filters"},
		{"token without its filters", &ferryv1.ListRunsRequest{PageToken: token},
			connect.CodeInvalidArgument, "page_token: was returned for other filters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := list(t, e.runs, tc.req)
			poolTestWantCode(t, err, tc.code, tc.msg)
		})
	}

	t.Run("token of another workspace's listing", func(t *testing.T) {
		t.Parallel()
		// The other workspace has a deployment etl too, so only the
		// token's workspace is wrong.
		_, _, err := list(t, e.otherRuns, &ferryv1.ListRunsRequest{PageSize: 1, Deployment: "etl"})
		if err != nil {
			t.Fatalf("ListRuns in the other workspace: %v", err)
		}
		_, _, err = list(t, e.otherRuns, &ferryv1.ListRunsRequest{PageSize: 1, Deployment: "etl", PageToken: token})
		poolTestWantCode(t, err, connect.CodeInvalidArgument, "page_token: not a token returned by ListRuns in this workspace")
	})
}

func TestGetRunStats(t *testing.T) {
	t.Parallel()
	e := setupRunListEnv(t)
	for _, ws := range []poolTestClients{e.poolTestClients, e.clientsFor(e.other)} {
		ws.applyPool(t, "batch", poolTestProcess)
		ws.applyDeployment(t, "etl", &ferryv1.DeploymentSpec{Pool: "batch", Command: []string{"true"}})
	}
	// The clock starts at 12:00 UTC. Runs are created at 09:10 (two),
	// 10:30 and 11:59, and one at 08:00 the day before, outside the window.
	t0 := e.clock.Now()
	at := func(d time.Duration, state, name string) string {
		e.clock.Set(t0.Add(d))
		id := e.createRun(t, e.runs, &ferryv1.RunTemplate{Deployment: "etl"})
		if state != "SCHEDULED" {
			e.setState(t, id, state, name)
		}
		return id
	}
	at(-28*time.Hour, "FAILED", "Failed")
	at(-170*time.Minute, "COMPLETED", "Completed")
	at(-170*time.Minute, "FAILED", "Failed")
	at(-90*time.Minute, "SCHEDULED", "Scheduled")
	at(-time.Minute, "CRASHED", "Crashed")
	// Runs of the other workspace count for it alone.
	e.createRun(t, e.otherRuns, &ferryv1.RunTemplate{Deployment: "etl"})
	e.clock.Set(t0.Add(30 * time.Second))

	get := func(req *ferryv1.GetRunStatsRequest) (*ferryv1.GetRunStatsResponse, error) {
		resp, err := e.runs.GetRunStats(context.Background(), connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	// counts renders the non-empty buckets as "HH:MM STATE=n ...".
	counts := func(resp *ferryv1.GetRunStatsResponse) []string {
		var out []string
		for _, b := range resp.GetBuckets() {
			if b.GetTotal() == 0 {
				continue
			}
			line := b.GetStartTime().AsTime().UTC().Format("01-02 15:04")
			var sum int64
			for _, c := range b.GetCounts() {
				line += " " + strings.TrimPrefix(c.GetState().String(), "RUN_STATE_") + "=" + strconv.FormatInt(c.GetCount(), 10)
				sum += c.GetCount()
			}
			if sum != b.GetTotal() {
				t.Errorf("bucket %s: total %d, counts add up to %d", line, b.GetTotal(), sum)
			}
			out = append(out, line)
		}
		return out
	}

	t.Run("default window", func(t *testing.T) {
		t.Parallel()
		resp, err := get(&ferryv1.GetRunStatsRequest{})
		if err != nil {
			t.Fatalf("GetRunStats: %v", err)
		}
		// The window ends with the hour holding now (12:00:30).
		if got, want := resp.GetEndTime().AsTime(), t0.Add(time.Hour); !got.Equal(want) {
			t.Errorf("end_time = %s, want %s", got, want)
		}
		if got, want := resp.GetStartTime().AsTime(), t0.Add(-23*time.Hour); !got.Equal(want) {
			t.Errorf("start_time = %s, want %s", got, want)
		}
		if n := len(resp.GetBuckets()); n != 24 {
			t.Errorf("%d buckets, want 24", n)
		}
		want := []string{"03-01 09:00 COMPLETED=1 FAILED=1", "03-01 10:00 SCHEDULED=1", "03-01 11:00 CRASHED=1"}
		if diff := cmp.Diff(want, counts(resp)); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
		// The 10:30 run is Late; the run that failed 28 hours ago is not a
		// failure of the last day, the two of today are.
		if resp.GetLateRuns() != 1 || resp.GetFailedLastDay() != 2 {
			t.Errorf("late_runs %d, failed_last_day %d; want 1 and 2", resp.GetLateRuns(), resp.GetFailedLastDay())
		}
	})
	t.Run("chosen window", func(t *testing.T) {
		t.Parallel()
		resp, err := get(&ferryv1.GetRunStatsRequest{
			Window: durationpb.New(48 * time.Hour), Bucket: durationpb.New(12 * time.Hour),
			EndTime: timestamppb.New(t0),
		})
		if err != nil {
			t.Fatalf("GetRunStats: %v", err)
		}
		// The 08:00 run of the day before counts in this window.
		want := []string{"02-28 00:00 FAILED=1", "03-01 00:00 SCHEDULED=1 COMPLETED=1 FAILED=1 CRASHED=1"}
		if diff := cmp.Diff(want, counts(resp)); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
		if n := len(resp.GetBuckets()); n != 4 {
			t.Errorf("%d buckets, want 4", n)
		}
	})

	rejects := []struct {
		name string
		req  *ferryv1.GetRunStatsRequest
		msg  string
	}{
		{"zero window", &ferryv1.GetRunStatsRequest{Window: durationpb.New(0)}, "window: must be more than 0"},
		{"window over a week", &ferryv1.GetRunStatsRequest{Window: durationpb.New(8 * 24 * time.Hour)}, "window: must be at most"},
		{"short bucket", &ferryv1.GetRunStatsRequest{Bucket: durationpb.New(30 * time.Second)}, "bucket: must be a whole number of seconds, at least 1m0s"},
		{"fractional bucket", &ferryv1.GetRunStatsRequest{Bucket: durationpb.New(90*time.Second + time.Millisecond)}, "bucket: must be a whole number of seconds"},
		{"window not in buckets", &ferryv1.GetRunStatsRequest{Window: durationpb.New(25 * time.Hour), Bucket: durationpb.New(2 * time.Hour)},
			"window: must be a whole number of buckets of 2h0m0s"},
		{"too many buckets", &ferryv1.GetRunStatsRequest{Window: durationpb.New(7 * 24 * time.Hour), Bucket: durationpb.New(time.Minute)},
			"bucket: gives 10080 buckets over the window; at most 1000"},
		{"invalid end", &ferryv1.GetRunStatsRequest{EndTime: &timestamppb.Timestamp{Nanos: 2e9}}, "end_time"},
	}
	for _, tc := range rejects {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := get(tc.req)
			poolTestWantCode(t, err, connect.CodeInvalidArgument, tc.msg)
		})
	}
}
