package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// limitsFake serves the calls of the limit, pause and explain commands and
// records their requests.
type limitsFake struct {
	ferryv1connect.UnimplementedRunServiceHandler
	ferryv1connect.UnimplementedPauseServiceHandler
	ferryv1connect.UnimplementedConcurrencyLimitServiceHandler

	mu      sync.Mutex
	pauses  []*ferryv1.PauseTarget
	resumes []*ferryv1.PauseTarget
	applied []*ferryv1.ApplyConcurrencyLimitRequest
}

func (f *limitsFake) Pause(_ context.Context, r *connect.Request[ferryv1.PauseRequest]) (*connect.Response[ferryv1.PauseResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, r.Msg.GetTarget())
	return connect.NewResponse(&ferryv1.PauseResponse{Changed: true}), nil
}

func (f *limitsFake) Resume(_ context.Context, r *connect.Request[ferryv1.ResumeRequest]) (*connect.Response[ferryv1.ResumeResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes = append(f.resumes, r.Msg.GetTarget())
	return connect.NewResponse(&ferryv1.ResumeResponse{}), nil
}

func (f *limitsFake) ApplyConcurrencyLimit(_ context.Context, r *connect.Request[ferryv1.ApplyConcurrencyLimitRequest]) (*connect.Response[ferryv1.ApplyConcurrencyLimitResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, r.Msg)
	m := r.Msg
	return connect.NewResponse(&ferryv1.ApplyConcurrencyLimitResponse{Limit: &ferryv1.ConcurrencyLimit{
		Name: m.GetName(), Slots: m.GetSlots(), Tags: m.GetTags(),
	}}), nil
}

func (f *limitsFake) ExplainRun(_ context.Context, r *connect.Request[ferryv1.ExplainRunRequest]) (*connect.Response[ferryv1.ExplainRunResponse], error) {
	return connect.NewResponse(&ferryv1.ExplainRunResponse{
		Run: &ferryv1.Run{Id: r.Msg.GetId(), Deployment: "etl", State: ferryv1.RunState_RUN_STATE_SCHEDULED, StateName: "Scheduled"},
		Reasons: []*ferryv1.WaitReason{
			{Code: ferryv1.WaitReasonCode_WAIT_REASON_CODE_CONCURRENCY_LIMIT, Message: "concurrency limit queue/local/a is full: 1 of 1 slot held",
				Limit: "queue/local/a", HoldingRunIds: []string{"r-1"}},
			{Code: ferryv1.WaitReasonCode_WAIT_REASON_CODE_PRIORITY, Message: "2 due runs come first", RunsAhead: 2},
		},
	}), nil
}

// runLimits runs the CLI against a limitsFake and returns what it printed.
func runLimits(t *testing.T, f *limitsFake, args ...string) (string, string, int) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewRunServiceHandler(f))
	mux.Handle(ferryv1connect.NewPauseServiceHandler(f))
	mux.Handle(ferryv1connect.NewConcurrencyLimitServiceHandler(f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	vars := map[string]string{"FERRY_SERVER": srv.URL, "FERRY_API_KEY": testAPIKey, "TZ": "UTC", "HOME": t.TempDir()}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}, args)
	return stdout.String(), stderr.String(), code
}

func TestPauseCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		pause  bool
		target *ferryv1.PauseTarget
		out    string
	}{
		{[]string{"deployment", "pause", "etl"}, true, &ferryv1.PauseTarget{Deployment: "etl"}, "deployment etl paused\n"},
		{[]string{"pool", "pause", "local"}, true, &ferryv1.PauseTarget{Pool: "local"}, "pool local paused\n"},
		{[]string{"queue", "pause", "local", "a"}, true, &ferryv1.PauseTarget{Pool: "local", Queue: "a"}, "queue local/a paused\n"},
		{[]string{"deployment", "resume", "etl"}, false, &ferryv1.PauseTarget{Deployment: "etl"}, "deployment etl was already running\n"},
		{[]string{"queue", "resume", "local", "a"}, false, &ferryv1.PauseTarget{Pool: "local", Queue: "a"}, "queue local/a was already running\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			f := &limitsFake{}
			out, errOut, code := runLimits(t, f, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if out != tt.out {
				t.Errorf("stdout %q, want %q", out, tt.out)
			}
			got := f.resumes
			if tt.pause {
				got = f.pauses
			}
			if diff := cmp.Diff([]*ferryv1.PauseTarget{tt.target}, got, protocmp.Transform()); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
	if _, errOut, code := runLimits(t, &limitsFake{}, "queue", "pause", "local"); code != exitUsage || !strings.Contains(errOut, "missing QUEUE") {
		t.Errorf("queue pause without a queue: exit %d, stderr %q; want usage error", code, errOut)
	}
}

func TestRunExplainTable(t *testing.T) {
	t.Parallel()
	out, errOut, code := runLimits(t, &limitsFake{}, "run", "explain", "r-9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Run r-9 of etl is SCHEDULED",
		"CONCURRENCY_LIMIT", "limit queue/local/a; held by r-1",
		"PRIORITY", "2 runs ahead",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLimitApply(t *testing.T) {
	t.Parallel()
	f := &limitsFake{}
	out, errOut, code := runLimits(t, f, "limit", "apply", "gpu", "--slots", "2", "--tag", "gpu", "--tag", "big")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []*ferryv1.ApplyConcurrencyLimitRequest{{Name: "gpu", Slots: 2, Tags: []string{"gpu", "big"}}}
	if diff := cmp.Diff(want, f.applied, protocmp.Transform()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if !strings.Contains(out, "gpu: 2 slots") {
		t.Errorf("stdout %q", out)
	}
	if _, _, code := runLimits(t, f, "limit", "apply", "gpu", "--slots", "0"); code != exitUsage {
		t.Errorf("--slots 0: exit %d, want %d", code, exitUsage)
	}
}
