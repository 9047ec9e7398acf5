package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/internal/dockertest"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestMain(m *testing.M) {
	// Stops the Docker engine of TestCheckDocker, if it started one.
	dockertest.Main(m)
}

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

// start runs the agent against srv, with extra arguments after the usual
// ones, and returns a function that waits for its exit code. The fake
// control plane does not sign orders: extra must allow unsigned orders or
// the orders are refused.
func start(
	t *testing.T,
	srv *agenttest.Server,
	stderr *syncBuffer,
	extra ...string,
) (stop context.CancelFunc, exit func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"FERRY_SERVER": srv.URL, "FERRY_AGENT_TOKEN": agenttest.Token}
	args := []string{"--name", "e2e", "--work-dir", t.TempDir(), "--shutdown-grace", "5s", "--log-level", "debug"}
	args = append(args, extra...)
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
	stop, exit := start(t, srv, &stderr, "--allow-unsigned-orders")
	srv.WaitFor(t, "the agent's stream", func(s *agenttest.Server) bool { return s.Connected() })

	o := srv.Offer(t, &ferryv1.JobSpec{Deployment: "demo", PoolType: "process", Command: []string{"/bin/echo", "hello"}})
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
	sawRun, sawStartWarning, sawOrderWarning := false, false, false
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch {
		case rec["msg"] == "run finished" && rec["run_id"] == o.GetRunId() && rec["attempt"] == float64(1):
			sawRun = true
		case rec["msg"] == "unsigned work orders allowed" && rec["level"] == "WARN":
			sawStartWarning = true
		case rec["msg"] == "work order not verified" && rec["level"] == "WARN" && rec["run_id"] == o.GetRunId():
			sawOrderWarning = true
		}
	}
	if !sawRun {
		t.Errorf("no 'run finished' record with run_id and attempt in:\n%s", logs)
	}
	if !sawStartWarning || !sawOrderWarning {
		t.Errorf("warnings about unsigned orders: at start %v, for the order %v; want both in:\n%s",
			sawStartWarning, sawOrderWarning, logs)
	}
}

func TestAgentRefusesUnsignedOrders(t *testing.T) {
	t.Parallel()
	srv := agenttest.New(t, agenttest.Options{})
	keys := writeTrustedKeys(t, t.TempDir(), "key-1")
	marker := filepath.Join(t.TempDir(), "launched")
	var stderr syncBuffer
	stop, exit := start(t, srv, &stderr, "--trusted-keys-file", keys)
	srv.WaitFor(t, "the agent's stream", func(s *agenttest.Server) bool { return s.Connected() })

	o := srv.Offer(t, &ferryv1.JobSpec{Deployment: "demo", PoolType: "process", Command: []string{"/bin/touch", marker}})
	srv.WaitFor(t, "the run to finish", func(s *agenttest.Server) bool { return s.Run(o.GetRunId()).Finished() })
	srv.Inspect(func(s *agenttest.Server) {
		r := s.Run(o.GetRunId())
		want := []ferryv1.ReportKind{ferryv1.ReportKind_REPORT_KIND_REJECTED}
		if diff := cmp.Diff(want, r.Kinds()); diff != "" {
			t.Errorf("report kinds (-want +got):\n%s", diff)
		}
		if msg := r.Reports[0].GetMessage(); !strings.Contains(msg, "not signed") {
			t.Errorf("rejection %q does not say the order is not signed", msg)
		}
	})
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unsigned order was launched: stat %s: %v", marker, err)
	}
	stop()
	if code := exit(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, stderr.String())
	}
}

func TestAgentResolvesAndMasksSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const secret = "correct-horse-battery"
	secretFile := writeFile(t, dir, "db-password", secret)
	config := writeFile(t, dir, "agent.yaml", "allow_unsigned_orders: true\n"+
		"policy:\n  config:\n    allowed_secret_refs: [\"file://"+dir+"/*\"]\n")
	srv := agenttest.New(t, agenttest.Options{})
	var stderr syncBuffer
	stop, exit := start(t, srv, &stderr, "--config", config)
	srv.WaitFor(t, "the agent's stream", func(s *agenttest.Server) bool { return s.Connected() })

	o := srv.Offer(t, &ferryv1.JobSpec{
		Deployment: "demo",
		PoolType:   "process",
		Command:    []string{"/bin/sh", "-c", `echo "password is $DB_PASSWORD"`},
		Secrets:    map[string]string{"DB_PASSWORD": "file://" + secretFile},
	})
	srv.WaitFor(t, "the run to finish", func(s *agenttest.Server) bool { return s.Run(o.GetRunId()).Finished() })
	srv.Inspect(func(s *agenttest.Server) {
		r := s.Run(o.GetRunId())
		want := []ferryv1.ReportKind{ferryv1.ReportKind_REPORT_KIND_STARTED, ferryv1.ReportKind_REPORT_KIND_COMPLETED}
		if diff := cmp.Diff(want, r.Kinds()); diff != "" {
			t.Errorf("report kinds (-want +got):\n%s", diff)
		}
		if texts, _ := r.Texts(); !cmp.Equal(texts, []string{"password is ***"}) {
			t.Errorf("log lines = %q, want the secret masked", texts)
		}
	})
	stop()
	if code := exit(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), secret) {
		t.Errorf("the secret appears in the agent's log:\n%s", stderr.String())
	}
}

func TestAgentRefusesToStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "bad.rego", "package ferry.agent\n\ndeny contains msg if {\n\tmsg := \n}\n")
	tests := []struct {
		name    string
		args    []string
		config  string
		message string
	}{
		{
			name:    "no trusted keys",
			message: "no trusted signing keys: set --trusted-keys-file to the output of `ferry keys ls --output agent`",
		},
		{
			name:    "trusted keys file missing",
			args:    []string{"--trusted-keys-file", filepath.Join(dir, "nope")},
			message: "trusted keys file",
		},
		{
			name:    "policy does not compile",
			config:  "allow_unsigned_orders: true\npolicy:\n  extra_files: [bad.rego]\n",
			message: "policy does not compile: " + filepath.Join(dir, "bad.rego") + ":5:1: rego_parse_error",
		},
		{
			name:    "bad policy settings",
			config:  "allow_unsigned_orders: true\npolicy:\n  config:\n    allowed_registrys: []\n",
			message: "agent policy (settings at " + filepath.Join(dir, "agent.yaml") + ":4:5)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share dir/agent.yaml.
			args := append([]string{"--name", "e2e"}, tt.args...)
			if tt.config != "" {
				args = append(args, "--config", writeFile(t, dir, "agent.yaml", tt.config))
			}
			// Nothing listens there: the agent must stop before dialling.
			env := map[string]string{"FERRY_SERVER": closedURL(t), "FERRY_AGENT_TOKEN": "t"}
			var stdout, stderr syncBuffer
			code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("stderr does not say %q:\n%s", tt.message, stderr.String())
			}
		})
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
			opts:    agenttest.Options{PoolType: "kubernetes"},
			trigger: func(*agenttest.Server) {},
			message: "ecs pools when its config file has an ecs section",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := agenttest.New(t, tt.opts)
			var stderr syncBuffer
			_, exit := start(t, srv, &stderr, "--allow-unsigned-orders")
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
