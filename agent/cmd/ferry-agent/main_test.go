package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs the agent against srv and returns a function that waits for its
// exit code.
func start(t *testing.T, srv *agenttest.Server, stderr *syncBuffer) (stop context.CancelFunc, exit func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"FERRY_SERVER": srv.URL, "FERRY_AGENT_TOKEN": agenttest.Token}
	args := []string{"--name", "e2e", "--work-dir", t.TempDir(), "--shutdown-grace", "5s", "--log-level", "debug"}
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, func(k string) string { return env[k] }, &syncBuffer{}, stderr) }()
	t.Cleanup(cancel)
	return cancel, func() int {
		t.Helper()
		select {
		case c := <-code:
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("agent did not exit within 20s")
			return -1
		}
	}
}

func TestAgentRunsAJob(t *testing.T) {
	t.Parallel()
	srv := agenttest.New(t, agenttest.Options{})
	var stderr syncBuffer
	stop, exit := start(t, srv, &stderr)
	srv.WaitFor(t, "the agent's stream", func(s *agenttest.Server) bool { return s.Connected() })

	o := srv.Offer(t, &ferryv1.JobSpec{Deployment: "demo", Command: []string{"/bin/echo", "hello"}})
	srv.WaitFor(t, "the run to finish", func(s *agenttest.Server) bool { return s.Run(o.GetRunId()).Finished() })
	srv.Inspect(func(s *agenttest.Server) {
		r := s.Run(o.GetRunId())
		want := []ferryv1.ReportKind{ferryv1.ReportKind_REPORT_KIND_STARTED, ferryv1.ReportKind_REPORT_KIND_COMPLETED}
		if diff := cmp.Diff(want, r.Kinds()); diff != "" {
			t.Errorf("report kinds (-want +got):\n%s", diff)
		}
		if texts, _ := r.Texts(); !cmp.Equal(texts, []string{"hello"}) {
			t.Errorf("log lines = %q, want [hello]", texts)
		}
		if sub := s.Subscribes(); sub < 1 {
			t.Errorf("%d subscribes", sub)
		}
	})

	stop()
	if code := exit(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, stderr.String())
	}
	logs := stderr.String()
	if strings.Contains(logs, agenttest.Token) {
		t.Error("the agent token appears in the logs")
	}
	sawRun := false
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "run finished" && rec["run_id"] == o.GetRunId() && rec["attempt"] == float64(1) {
			sawRun = true
		}
	}
	if !sawRun {
		t.Errorf("no 'run finished' record with run_id and attempt in:\n%s", logs)
	}
}

func TestAgentExitsWhenItCannotGoOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    agenttest.Options
		trigger func(srv *agenttest.Server)
		message string
	}{
		{
			name:    "token revoked",
			trigger: func(srv *agenttest.Server) { srv.Revoke() },
			message: "refused the agent token",
		},
		{
			name:    "unsupported pool type",
			opts:    agenttest.Options{PoolType: "docker"},
			trigger: func(*agenttest.Server) {},
			message: "supports only process pools",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := agenttest.New(t, tt.opts)
			var stderr syncBuffer
			_, exit := start(t, srv, &stderr)
			srv.WaitFor(t, "a subscribe", func(s *agenttest.Server) bool { return s.Subscribes() > 0 })
			tt.trigger(srv)
			if code := exit(); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("stderr does not say %q:\n%s", tt.message, stderr.String())
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "version", args: []string{"--version"}, code: 0, stdout: "ferry-agent "},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "-metrics-addr"},
		{name: "missing server", args: nil, code: 2, stderr: "--server"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr syncBuffer
			code := run(context.Background(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}
