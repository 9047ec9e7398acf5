package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// TestWorkspaceCommands runs ferry workspace create and ls against the
// real workspace service on a fresh database, as the bootstrap admin key
// and as the admin of a workspace that is not the installation's first.
// The cases run in order: later ones see the workspaces earlier ones made.
func TestWorkspaceCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	now := time.Date(2025, 3, 28, 12, 0, 0, 0, time.UTC)
	boot, err := bootstrap.Ensure(ctx, st, "", now)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	email := "ada@example.com"
	if _, err := st.Q.UserInsert(ctx, db.UserInsertParams{
		ID: uuid.New(), Kind: "human", Email: &email, DisplayName: "Ada", Now: now,
	}); err != nil {
		t.Fatalf("insert user: %v", err)
	}
	other, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "other", Now: now})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Q.APIKeyInsert(ctx, db.APIKeyInsertParams{
		ID: uuid.New(), WorkspaceID: other.ID, Name: "admin", Prefix: sec.Prefix, SecretHash: sec.Hash, Role: "admin", Now: now,
	}); err != nil {
		t.Fatalf("insert API key: %v", err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := connect.WithInterceptors(auth.NewAuthenticator(st.Q, clock.Real{}).Interceptor(), validate.Interceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkspaceServiceHandler(&api.WorkspaceServer{
		Store: st, Clock: clock.NewFake(now), Log: log,
		InstallationWorkspace: func(context.Context) (uuid.UUID, error) { return boot.WorkspaceID, nil },
	}, opts))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f := &fakeServer{url: hs.URL}

	tests := []struct {
		name string
		// key is the API key to call with; empty takes the bootstrap key.
		key  string
		args []string
		// code is the exit code; stdout and stderr are parts of the output.
		code           int
		stdout, stderr string
	}{
		{
			name:   "create for an owner",
			args:   []string{"workspace", "create", "team-b", "--display-name", "Team B", "--owner", "Ada@Example.com"},
			stdout: "Created workspace team-b, owned by ada@example.com.\n",
		},
		{
			name: "json output", args: []string{"workspace", "create", "team-c", "--owner", email, "--output", "json"},
			stdout: `"name":"team-c"`,
		},
		{
			name: "duplicate", args: []string{"workspace", "create", "team-b", "--owner", email},
			code: 1, stderr: `a workspace named "team-b" exists`,
		},
		{
			name: "the bootstrap key names no owner", args: []string{"workspace", "create", "team-d"},
			code: 1, stderr: "owner_email: required",
		},
		{
			name: "unknown owner", args: []string{"workspace", "create", "team-d", "--owner", "ghost@example.com"},
			code: 1, stderr: "owner_email: no person",
		},
		{
			name: "bad name", args: []string{"workspace", "create", "Team-D", "--owner", email},
			code: 1, stderr: "name: must be a name",
		},
		{
			name: "admin of another workspace", key: sec.Full, args: []string{"workspace", "create", "team-e", "--owner", email},
			code: 1, stderr: "installation's first workspace",
		},
		{name: "missing name", args: []string{"workspace", "create"}, code: exitUsage, stderr: "missing NAME"},
		{name: "bad output", args: []string{"workspace", "ls", "--output", "yaml"}, code: exitUsage, stderr: "--output must be table or json"},
		{
			name: "list as the bootstrap key", args: []string{"workspace", "ls"},
			stdout: "NAME     DISPLAY NAME  ROLE   CREATED\ndefault  default       admin  2025-03-28 12:00:00\n",
		},
		{
			name: "list as the other workspace's key", key: sec.Full, args: []string{"workspace", "ls", "--output", "json"},
			stdout: `"name":"other"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == "" {
				key = boot.AdminKey
			}
			res := f.run(t, map[string]string{"FERRY_API_KEY": key}, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stdout, tt.stdout) || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr with %q",
					res.code, res.stdout, res.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
