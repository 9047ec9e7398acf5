package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/internal/dockertest"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const fakeToken = "check-token"

// fakeControlPlane serves /healthz and AgentService.Heartbeat as the control
// plane does for a session it does not know.
type fakeControlPlane struct {
	ferryv1connect.UnimplementedAgentServiceHandler
	healthStatus int
	// precondition answers an accepted token with FailedPrecondition
	// instead of resubscribe.
	precondition bool
	heartbeats   atomic.Int32
}

func (f *fakeControlPlane) Heartbeat(
	_ context.Context,
	req *connect.Request[ferryv1.HeartbeatRequest],
) (*connect.Response[ferryv1.HeartbeatResponse], error) {
	f.heartbeats.Add(1)
	if req.Header().Get("Authorization") != "Bearer "+fakeToken {
		return nil, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("invalid agent token"))
	}
	if f.precondition {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("unknown session"))
	}
	return connect.NewResponse(&ferryv1.HeartbeatResponse{Resubscribe: true}), nil
}

func startFakeControlPlane(t *testing.T, f *fakeControlPlane) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAgentServiceHandler(f))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(f.healthStatus)
		fmt.Fprintln(w, "ok")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// writeTrustedKeys writes a trusted keys file holding fresh keys with ids
// and returns its path.
func writeTrustedKeys(t *testing.T, dir string, ids ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# ferry keys ls --output agent\n")
	for _, id := range ids {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s\n", id, base64.StdEncoding.EncodeToString(pub))
	}
	return writeFile(t, dir, "trusted-keys", b.String())
}

// closedURL returns the URL of a loopback server that is no longer there.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := writeTrustedKeys(t, dir, "key-a", "key-b")
	badPolicy := writeFile(t, dir, "bad.rego", "package ferry.agent\n\ndeny contains msg if {\n\tmsg := \n}\n")
	strictPolicy := writeFile(t, dir, "strict.yaml", "policy:\n  config:\n    allowed_networks: [\"none\"]\n"+
		"    allowed_registries: [\"registry.local:5000\"]\n")

	tests := []struct {
		name string
		cp   *fakeControlPlane // nil: no control plane listens
		args []string
		env  map[string]string
		code int
		want []string
		// heartbeats is how many Heartbeat calls the fake expects.
		heartbeats int32
	}{
		{
			name:       "all well",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--trusted-keys-file", keys},
			code:       0,
			heartbeats: 1,
			want: []string{
				"OK    config: from flags and environment variables only",
				"OK    server URL: http://127.0.0.1:",
				"OK    control plane reachable:",
				"OK    agent token: accepted",
				"OK    trusted keys: 2 from " + keys + ": key-a, key-b",
				"SKIP  docker: no Docker engine configured",
				"OK    policy: compiles; a sample process order (true) is allowed",
			},
		},
		{
			name:       "token accepted, session unknown",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK, precondition: true},
			args:       []string{"--trusted-keys-file", keys},
			code:       0,
			heartbeats: 1,
			want:       []string{"OK    agent token: accepted"},
		},
		{
			name:       "bad token",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--trusted-keys-file", keys},
			env:        map[string]string{"FERRY_AGENT_TOKEN": "wrong"},
			code:       1,
			heartbeats: 1,
			want:       []string{"FAIL  agent token: refused by the control plane", "ferry agent token create"},
		},
		{
			name: "unreachable",
			args: []string{"--trusted-keys-file", keys},
			code: 1,
			want: []string{
				"FAIL  control plane reachable: cannot reach http://127.0.0.1:",
				"SKIP  agent token: the control plane must be reachable first",
				"OK    trusted keys: 2",
			},
		},
		{
			name: "unhealthy",
			cp:   &fakeControlPlane{healthStatus: http.StatusServiceUnavailable},
			args: []string{"--trusted-keys-file", keys},
			code: 1,
			want: []string{"FAIL  control plane reachable:", "answered 503 Service Unavailable"},
		},
		{
			name:       "no trusted keys",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			code:       1,
			heartbeats: 1,
			want:       []string{"FAIL  trusted keys: no trusted signing keys", "ferry keys ls --output agent"},
		},
		{
			name:       "unsigned orders allowed",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--allow-unsigned-orders"},
			code:       0,
			heartbeats: 1,
			want:       []string{"WARN  trusted keys: none: unsigned work orders are allowed"},
		},
		{
			name:       "trusted keys file missing",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--trusted-keys-file", filepath.Join(dir, "nope")},
			code:       1,
			heartbeats: 1,
			want:       []string{"FAIL  trusted keys:", "no such file"},
		},
		{
			name:       "policy does not compile",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--trusted-keys-file", keys},
			env:        map[string]string{"FERRY_AGENT_CONFIG": writeFile(t, dir, "bad.yaml", "policy:\n  extra_files: [bad.rego]\n")},
			code:       1,
			heartbeats: 1,
			want:       []string{"FAIL  policy: policy does not compile: " + badPolicy + ":5:1: rego_parse_error"},
		},
		{
			name:       "sample order denied",
			cp:         &fakeControlPlane{healthStatus: http.StatusOK},
			args:       []string{"--trusted-keys-file", keys, "--config", strictPolicy, "--docker-host", closedDockerHost(t)},
			code:       1, // the engine is not there
			heartbeats: 1,
			want: []string{
				"FAIL  docker: the engine at unix://",
				"OK    policy: compiles; a sample docker order (busybox:latest true) is denied: ",
				"registry: image busybox:latest is not from an allowed registry",
			},
		},
		{
			name: "bad config",
			args: []string{"--capacity", "0"},
			code: 1,
			want: []string{"FAIL  config: capacity 0", "SKIP  other checks: fix the configuration first"},
		},
		{
			name: "plain http to another host",
			env:  map[string]string{"FERRY_SERVER": "http://ferry.internal:8080"},
			args: []string{"--allow-unsigned-orders"},
			code: 1,
			want: []string{"FAIL  server URL: ", "SKIP  control plane: fix the server URL first"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := closedURL(t)
			if tt.cp != nil {
				server = startFakeControlPlane(t, tt.cp)
			}
			env := map[string]string{"FERRY_SERVER": server, "FERRY_AGENT_TOKEN": fakeToken, "FERRY_AGENT_NAME": "edge-1"}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr syncBuffer
			args := append([]string{"check"}, tt.args...)
			code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			out := stdout.String()
			if code != tt.code {
				t.Errorf("exit code %d, want %d; output:\n%s%s", code, tt.code, out, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, fakeToken) {
				t.Errorf("output shows the token:\n%s", out)
			}
			if tt.cp != nil && tt.cp.heartbeats.Load() != tt.heartbeats {
				t.Errorf("%d heartbeats, want %d", tt.cp.heartbeats.Load(), tt.heartbeats)
			}
		})
	}
}

// closedDockerHost returns the address of a unix socket nothing listens on.
func closedDockerHost(t *testing.T) string {
	t.Helper()
	return "unix://" + filepath.Join(t.TempDir(), "docker.sock")
}

func TestCheckDocker(t *testing.T) {
	t.Parallel()
	engine := dockertest.Start(t)
	cp := &fakeControlPlane{healthStatus: http.StatusOK}
	env := map[string]string{
		"FERRY_SERVER": startFakeControlPlane(t, cp), "FERRY_AGENT_TOKEN": fakeToken,
		"FERRY_AGENT_ALLOW_UNSIGNED_ORDERS": "true", "DOCKER_HOST": engine.Host(),
	}
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"check"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != 0 {
		t.Errorf("exit code %d, want 0; output:\n%s%s", code, stdout.String(), stderr.String())
	}
	want := "OK    docker: engine at " + engine.Host() + ": Docker "
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("output does not contain %q:\n%s", want, stdout.String())
	}
}
