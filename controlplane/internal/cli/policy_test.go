package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/policystore"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// policyTestBuiltin is a minimal built-in policy of each kind that adds the
// workspace denials, as the real built-in policies do.
func policyTestBuiltin(kind policystore.Kind) (policystore.Builtin, error) {
	src := "package ferry." + string(kind) + "\n\n" +
		"deny contains msg if {\n\tsome msg in data.ferry." + string(kind) + ".workspace.deny\n}\n"
	return policystore.Builtin{
		Modules:   []policystore.Module{{Name: "builtin/" + string(kind) + ".rego", Source: src}},
		DenyQuery: "data.ferry." + string(kind) + ".deny",
	}, nil
}

// policyServer serves PolicyService on loopback behind the real
// authentication and validation interceptors, on a fresh database with
// the bootstrap workspace and its admin key. It returns a function that
// runs the CLI against it.
func policyServer(t *testing.T) func(args ...string) cliResult {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	clk := clock.Real{}
	boot, err := bootstrap.Ensure(ctx, st, "", clk.Now())
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	srv := &api.PolicyServer{
		Policies: policystore.New(st, clk, policyTestBuiltin),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewPolicyServiceHandler(srv, connect.WithInterceptors(
		auth.NewAuthenticator(st.Q, clk).Interceptor(), validate.Interceptor())))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f := &fakeServer{url: hs.URL}
	return func(args ...string) cliResult {
		t.Helper()
		return f.run(t, map[string]string{"FERRY_API_KEY": boot.AdminKey}, args...)
	}
}

func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const cliFridayPolicy = `package ferry.admission.workspace

deny contains "no deployments on Friday" if {
	input.day == "friday"
}
`

func TestPolicyCommands(t *testing.T) {
	t.Parallel()
	ferry := policyServer(t)
	dir := t.TempDir()
	policy := writeTestFile(t, dir, "no-friday.rego", cliFridayPolicy)
	broken := writeTestFile(t, dir, "broken.rego", "package ferry.admission.workspace\n\ndeny contains msg if {\n\tmsg :=\n}\n")
	friday := writeTestFile(t, dir, "friday.json", `{"day": "friday"}`)
	monday := writeTestFile(t, dir, "monday.json", `{"day": "monday"}`)

	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:       "test a broken file",
			args:       []string{"policy", "test", broken, "--kind", "admission", "--input", friday},
			wantCode:   1,
			wantStderr: []string{broken + ":5:1: unexpected } token"},
		},
		{
			name:       "test a file that denies",
			args:       []string{"policy", "test", policy, "--kind", "admission", "--input", friday, "--expect", "deny"},
			wantStdout: []string{"DENIED", "workspace policies: no-friday@candidate", "workspace workspace/no-friday.rego:3: no deployments on Friday"},
		},
		{
			name:       "test with a wrong expectation",
			args:       []string{"policy", "test", policy, "--kind", "admission", "--input", monday, "--expect", "deny"},
			wantCode:   1,
			wantStdout: []string{"ALLOWED"},
			wantStderr: []string{"expected deny, got allow"},
		},
		{
			name:       "list before apply",
			args:       []string{"policy", "ls"},
			wantStdout: []string{"KIND  NAME  ACTIVE  LATEST  UPDATED"},
		},
		{
			name:       "apply",
			args:       []string{"policy", "apply", "-f", policy, "--kind", "admission"},
			wantStdout: []string{"admission policy no-friday: version 1 is active"},
		},
		{
			name:       "apply again",
			args:       []string{"policy", "apply", "-f", policy, "--kind", "admission"},
			wantStdout: []string{"admission policy no-friday unchanged: version 1 is active"},
		},
		{
			name:       "apply a broken file",
			args:       []string{"policy", "apply", "-f", broken, "--kind", "admission", "--name", "no-friday"},
			wantCode:   1,
			wantStderr: []string{broken + ":5:1: unexpected } token"},
		},
		{
			name:       "list after apply",
			args:       []string{"policy", "ls", "--kind", "admission"},
			wantStdout: []string{"admission  no-friday  1       1"},
		},
		{
			name:       "the active policy denies on the server",
			args:       []string{"policy", "test", writeTestFile(t, dir, "other.rego", "package ferry.admission.workspace\n"), "--kind", "admission", "--input", friday},
			wantStdout: []string{"DENIED", "no-friday@1, other@candidate", "no deployments on Friday"},
		},
		{
			name:       "missing input",
			args:       []string{"policy", "test", policy},
			wantCode:   2,
			wantStderr: []string{"--input is required"},
		},
	}
	for _, s := range steps {
		res := ferry(s.args...)
		if res.code != s.wantCode {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, res.code, s.wantCode, res.stdout, res.stderr)
		}
		for _, w := range s.wantStdout {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, w, res.stdout)
			}
		}
		for _, w := range s.wantStderr {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, w, res.stderr)
			}
		}
	}
}
