package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkGolden compares got with testdata/golden/name, or rewrites the file
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

const (
	okRunID  = "0190a1b2-0000-7000-8000-000000000001"
	badRunID = "0190a1b2-0000-7000-8000-000000000002"
)

// runAt builds a run of deployment "report" in the given state.
func runAt(id string, state ferryv1.RunState, name string, attempt, maxAttempts int32) *ferryv1.Run {
	return &ferryv1.Run{
		Id: id, Deployment: "report", DeploymentVersion: 3, Pool: "local", Queue: "default",
		State: state, StateName: name, Attempt: attempt, MaxAttempts: maxAttempts, CreateTime: ts(0),
	}
}

func finished(r *ferryv1.Run, start, end time.Duration, msg string) *ferryv1.Run {
	r.StartTime, r.EndTime, r.StateMessage = ts(start), ts(end), msg
	return r
}

func logLine(attempt int32, seq int64, stream ferryv1.LogStream, at time.Duration, text string) *ferryv1.LogLine {
	return &ferryv1.LogLine{Attempt: attempt, Seq: seq, Stream: stream, Time: ts(at), Text: text}
}

func scriptedServer(t *testing.T) *fakeServer {
	t.Helper()
	srv := newFakeServer(t)
	srv.scripts["ok"] = runScript{
		states: []*ferryv1.Run{
			runAt(okRunID, ferryv1.RunState_RUN_STATE_SCHEDULED, "Scheduled", 1, 1),
			runAt(okRunID, ferryv1.RunState_RUN_STATE_PENDING, "Pending", 1, 1),
			runAt(okRunID, ferryv1.RunState_RUN_STATE_RUNNING, "Running", 1, 1),
			runAt(okRunID, ferryv1.RunState_RUN_STATE_RUNNING, "Running", 1, 1),
			finished(runAt(okRunID, ferryv1.RunState_RUN_STATE_COMPLETED, "Completed", 1, 1), time.Second, 3500*time.Millisecond, ""),
		},
		logs: []*ferryv1.LogLine{
			logLine(1, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, 1123*time.Millisecond, "hello"),
			logLine(1, 2, ferryv1.LogStream_LOG_STREAM_STDERR, 2*time.Second, "careful\n"),
			logLine(1, 3, ferryv1.LogStream_LOG_STREAM_SYSTEM, 3*time.Second, "exited with code 0"),
		},
	}
	srv.scripts["bad"] = runScript{
		states: []*ferryv1.Run{
			runAt(badRunID, ferryv1.RunState_RUN_STATE_SCHEDULED, "Scheduled", 1, 2),
			runAt(badRunID, ferryv1.RunState_RUN_STATE_RUNNING, "Running", 1, 2),
			runAt(badRunID, ferryv1.RunState_RUN_STATE_SCHEDULED, "AwaitingRetry", 1, 2),
			runAt(badRunID, ferryv1.RunState_RUN_STATE_RUNNING, "Running", 2, 2),
			finished(runAt(badRunID, ferryv1.RunState_RUN_STATE_FAILED, "Failed", 2, 2), 10*time.Second, 72*time.Second, "exit code 1"),
		},
		logs: []*ferryv1.LogLine{
			logLine(1, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, time.Second, "try 1"),
			logLine(2, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, 11*time.Second, "try 2"),
		},
	}
	return srv
}

var logLineRE = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d \[|^--- attempt`)

// splitWatch separates watch output into state lines, log lines and the
// rest, each in the order printed. The two streams are followed
// concurrently, so only the order within each is fixed.
func splitWatch(out string) (states, logs, rest []string) {
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "==> ") && !strings.HasPrefix(l, "==> run "):
			states = append(states, l)
		case logLineRE.MatchString(l):
			logs = append(logs, l)
		default:
			rest = append(rest, l)
		}
	}
	return states, logs, rest
}

func TestRunStartWatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		deployment string
		wantCode   int
		wantStates []string
		wantLogs   []string
		wantRest   []string
		wantStderr string
	}{
		{
			name:       "completed",
			deployment: "ok",
			wantCode:   0,
			wantStates: []string{"==> SCHEDULED (Scheduled)", "==> PENDING (Pending)", "==> RUNNING (Running)", "==> COMPLETED (Completed)"},
			wantLogs: []string{
				"12:00:01.123 [stdout] hello",
				"12:00:02.000 [stderr] careful",
				"12:00:03.000 [system] exited with code 0",
			},
			wantRest: []string{
				okRunID,
				"==> run " + okRunID + " finished",
				"State:     COMPLETED",
				"Attempts:  1/1",
				"Duration:  2.5s",
				"Message:   -",
			},
		},
		{
			name:       "failed",
			deployment: "bad",
			wantCode:   1,
			wantStates: []string{
				"==> SCHEDULED (Scheduled)", "==> RUNNING (Running)", "==> SCHEDULED (AwaitingRetry)",
				"==> RUNNING (Running)", "==> FAILED (Failed)",
			},
			wantLogs: []string{
				"12:00:01.000 [stdout] try 1",
				"--- attempt 2 ---",
				"12:00:11.000 [stdout] try 2",
			},
			wantRest: []string{
				badRunID,
				"==> run " + badRunID + " finished",
				"State:     FAILED",
				"Attempts:  2/2",
				"Duration:  1m2s",
				"Message:   exit code 1",
			},
			wantStderr: "ferry: run " + badRunID + " ended FAILED\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := scriptedServer(t)
			r := srv.run(t, nil, "run", "start", tt.deployment, "--watch")
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if r.stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.wantStderr)
			}
			states, logs, rest := splitWatch(r.stdout)
			if diff := cmp.Diff(tt.wantStates, states); diff != "" {
				t.Errorf("state lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLogs, logs); diff != "" {
				t.Errorf("log lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRest, rest); diff != "" {
				t.Errorf("other lines (-want +got):\n%s", diff)
			}
			// The summary comes after everything else.
			if lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"); len(lines) < 5 ||
				!strings.HasPrefix(lines[len(lines)-5], "==> run ") {
				t.Errorf("summary is not at the end of:\n%s", r.stdout)
			}
		})
	}
}

func TestRunStartRequest(t *testing.T) {
	t.Parallel()
	srv := scriptedServer(t)
	r := srv.run(t, nil, "run", "start", "ok", "-p", "day=2024-05-01", "-p", "n=9007199254740993",
		"--params-json", `{"n": 1, "keep": {"x": 1.50}}`, "--tag", "adhoc", "--tag", "cli", "--idempotency-key", "k-1")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != okRunID+"\n" {
		t.Errorf("stdout = %q, want the run id alone", r.stdout)
	}
	want := &ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
		Deployment:     "ok",
		Parameters:     `{"day":"2024-05-01","keep":{"x":1.50},"n":9007199254740993}`,
		IdempotencyKey: "k-1",
		Tags:           []string{"adhoc", "cli"},
	}}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.createReqs) != 1 {
		t.Fatalf("got %d CreateRun calls, want 1", len(srv.createReqs))
	}
	if diff := cmp.Diff(want, srv.createReqs[0], protocmp.Transform()); diff != "" {
		t.Errorf("CreateRun request (-want +got):\n%s", diff)
	}
}

func TestRunStartUsage(t *testing.T) {
	t.Parallel()
	srv := scriptedServer(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "start"}, "run start: missing DEPLOYMENT"},
		{[]string{"run", "start", "a", "b"}, `run start: unexpected argument "b"`},
		{[]string{"run", "start", "ok", "-p", "nokey"}, `-p "nokey": want key=value`},
		{[]string{"run", "start", "ok", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		r := srv.run(t, nil, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, exitUsage, tt.want)
		}
	}
}

func TestRunStartWatchInterrupted(t *testing.T) {
	t.Parallel()
	srv := scriptedServer(t)
	srv.scripts["ok"] = runScript{states: srv.scripts["ok"].states[:3], logs: srv.scripts["ok"].logs[:1]}
	srv.holdWatch = true
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-srv.watchHeld
		cancel()
	}()
	r := srv.runContext(t, ctx, "", nil, "run", "start", "ok", "--watch")
	if r.code != exitInterrupted {
		t.Errorf("exit %d, want %d", r.code, exitInterrupted)
	}
	want := "To cancel it: ferry run cancel " + okRunID
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not say %q", r.stderr, want)
	}
}

func listedRuns() *ferryv1.ListRunsResponse {
	late := runAt("0190a1b2-0000-7000-8000-00000000000a", ferryv1.RunState_RUN_STATE_SCHEDULED, "Late", 1, 3)
	done := finished(runAt("0190a1b2-0000-7000-8000-00000000000c", ferryv1.RunState_RUN_STATE_FAILED, "TimedOut", 1, 1),
		time.Second, 5*time.Minute+time.Second, "timed out after 5m")
	done.CreateTime = ts(-time.Hour)
	return &ferryv1.ListRunsResponse{Runs: []*ferryv1.Run{late, done}, NextPageToken: "cursor-2"}
}

func TestRunListTable(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	srv.listResp = listedRuns()
	r := srv.run(t, nil, "run", "ls", "--state", "failed", "--state", "SCHEDULED", "--deployment", "report",
		"--since", "2024-04-30T00:00:00Z", "--limit", "2")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	checkGolden(t, "run_ls.txt", r.stdout)
	if want := "more runs: repeat with --page-token cursor-2\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	want := &ferryv1.ListRunsRequest{
		PageSize:     2,
		States:       []ferryv1.RunState{ferryv1.RunState_RUN_STATE_FAILED, ferryv1.RunState_RUN_STATE_SCHEDULED},
		Deployment:   "report",
		CreatedAfter: ts(-36 * time.Hour),
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if diff := cmp.Diff(want, srv.listReqs[0], protocmp.Transform()); diff != "" {
		t.Errorf("ListRuns request (-want +got):\n%s", diff)
	}
}

func TestRunListJSON(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	srv.listResp = listedRuns()
	r := srv.run(t, nil, "run", "ls", "--output", "json", "--since", "2h", "--page-token", "cursor-1")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got []*ferryv1.Run
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		run := &ferryv1.Run{}
		if err := protojson.Unmarshal([]byte(line), run); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, run)
	}
	if diff := cmp.Diff(listedRuns().GetRuns(), got, protocmp.Transform()); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	req := srv.listReqs[0]
	if req.GetPageToken() != "cursor-1" {
		t.Errorf("page token = %q, want cursor-1", req.GetPageToken())
	}
	// --since 2h is measured from the real clock.
	if after := time.Since(req.GetCreatedAfter().AsTime()); after < 2*time.Hour || after > 2*time.Hour+time.Minute {
		t.Errorf("created_after is %s ago, want about 2h", after)
	}
}

func TestRunListUsage(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	for _, args := range [][]string{
		{"run", "ls", "--state", "sleeping"},
		{"run", "ls", "--since", "yesterday"},
		{"run", "ls", "--since", "-1h"},
		{"run", "ls", "--limit", "5000"},
		{"run", "ls", "--output", "yaml"},
	} {
		if r := srv.run(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestRunLogsPages(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	srv.logPages[""] = &ferryv1.ListRunLogsResponse{
		Lines: []*ferryv1.LogLine{
			logLine(1, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, 0, "one"),
			logLine(1, 2, ferryv1.LogStream_LOG_STREAM_STDERR, time.Second, "two\x1b[31m"),
		},
		NextPageToken: "p2",
	}
	truncated := logLine(2, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, time.Minute, "three")
	truncated.Truncated = true
	srv.logPages["p2"] = &ferryv1.ListRunLogsResponse{Lines: []*ferryv1.LogLine{truncated}}
	r := srv.run(t, nil, "run", "logs", okRunID)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "12:00:00.000 [stdout] one\n" +
		"12:00:01.000 [stderr] two\x1b[31m\n" +
		"--- attempt 2 ---\n" +
		"12:01:00.000 [stdout] three [line truncated]\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func TestRunLogsTail(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	srv.logPages[""] = &ferryv1.ListRunLogsResponse{
		Lines: []*ferryv1.LogLine{
			logLine(1, 9, ferryv1.LogStream_LOG_STREAM_STDOUT, 0, "nine"),
			logLine(2, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, time.Second, "ten"),
		},
		// A backward token: --tail prints one page and never reads it.
		NextPageToken: "earlier",
	}
	srv.runs[okRunID] = runScript{logs: []*ferryv1.LogLine{
		logLine(1, 1, ferryv1.LogStream_LOG_STREAM_STDOUT, 0, "a"),
		logLine(1, 2, ferryv1.LogStream_LOG_STREAM_STDOUT, time.Second, "b"),
	}}

	r := srv.run(t, nil, "run", "logs", "--tail", "2", okRunID)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "12:00:00.000 [stdout] nine\n--- attempt 2 ---\n12:00:01.000 [stdout] ten\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	r = srv.run(t, nil, "run", "logs", "-f", "--tail", "50", okRunID)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := "12:00:00.000 [stdout] a\n12:00:01.000 [stdout] b\n"; r.stdout != want {
		t.Errorf("followed logs %q, want %q", r.stdout, want)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	wantList := []*ferryv1.ListRunLogsRequest{{Id: okRunID, PageSize: 2, Backward: true}}
	if diff := cmp.Diff(wantList, srv.logReqs, protocmp.Transform()); diff != "" {
		t.Errorf("ListRunLogs requests (-want +got):\n%s", diff)
	}
	wantFollow := []*ferryv1.FollowRunLogsRequest{{Id: okRunID, TailLines: 50}}
	if diff := cmp.Diff(wantFollow, srv.followReqs, protocmp.Transform()); diff != "" {
		t.Errorf("FollowRunLogs requests (-want +got):\n%s", diff)
	}
}

func TestRunLogsTailUsage(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	for _, args := range [][]string{
		{"run", "logs", "--tail", "-1", okRunID},
		{"run", "logs", "--tail", "10001", okRunID},
		{"run", "logs", "--tail", "many", okRunID},
		{"run", "logs", "-f", "--tail", "5", "--attempt", "2", okRunID},
	} {
		if r := srv.run(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.logReqs)+len(srv.followReqs) != 0 {
		t.Errorf("rejected commands called the server %d times", len(srv.logReqs)+len(srv.followReqs))
	}
}
