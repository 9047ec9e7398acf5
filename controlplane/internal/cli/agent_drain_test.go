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
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// TestAgentDrainCommands drains and undrains an agent with the CLI against
// the real work pool service on a fresh database, and reads the result
// back with 'ferry agent ls'.
func TestAgentDrainCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	now := time.Now()
	boot, err := bootstrap.Ensure(ctx, st, "", now)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := connect.WithInterceptors(auth.NewAuthenticator(st.Q, clock.Real{}).Interceptor(), validate.Interceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&api.WorkPoolServer{Store: st, Clock: clock.Real{}, Log: log}, opts))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f := &fakeServer{url: hs.URL}
	ferry := func(args ...string) cliResult {
		t.Helper()
		return f.run(t, map[string]string{"FERRY_API_KEY": boot.AdminKey}, args...)
	}

	pools := ferryv1connect.NewWorkPoolServiceClient(hs.Client(), hs.URL, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+boot.AdminKey)
				return next(ctx, req)
			}
		})))
	pool, err := pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	}))
	if err != nil {
		t.Fatalf("apply pool: %v", err)
	}
	row, err := st.Q.WorkPoolGetByName(ctx, db.WorkPoolGetByNameParams{WorkspaceID: boot.WorkspaceID, Name: pool.Msg.GetWorkPool().GetName()})
	if err != nil {
		t.Fatalf("read pool: %v", err)
	}
	sec, err := auth.NewSecret(auth.AgentTokenKind)
	if err != nil {
		t.Fatalf("new agent token: %v", err)
	}
	tok, err := st.Q.AgentTokenInsert(ctx, db.AgentTokenInsertParams{
		ID: uuid.New(), WorkspaceID: boot.WorkspaceID, PoolID: row.ID, Name: "t", Prefix: sec.Prefix, SecretHash: sec.Hash, Now: now,
	})
	if err != nil {
		t.Fatalf("insert agent token: %v", err)
	}
	if _, err := st.Q.AgentUpsertSession(ctx, db.AgentUpsertSessionParams{
		ID: uuid.New(), WorkspaceID: boot.WorkspaceID, PoolID: row.ID, Name: "worker", Version: "1", Capacity: 2,
		SessionID: uuid.New(), TokenID: tok.ID, Now: now,
	}); err != nil {
		t.Fatalf("register agent: %v", err)
	}

	steps := []struct {
		args     []string
		code     int
		out      string
		errPart  string
		lsStatus string
	}{
		{args: []string{"agent", "drain", "worker", "--pool", "local"},
			out: "agent local/worker is draining: no new runs; 0 active runs carry on\n", lsStatus: "draining (requested)"},
		{args: []string{"agent", "drain", "worker", "--pool", "local"},
			out: "agent local/worker was already asked to drain\n", lsStatus: "draining (requested)"},
		{args: []string{"agent", "undrain", "worker", "--pool", "local"},
			out: "agent local/worker undrained: it is offered runs again\n", lsStatus: "online"},
		{args: []string{"agent", "undrain", "--pool", "local", "worker"},
			out: "agent local/worker had no drain request\n", lsStatus: "online"},
		{args: []string{"agent", "drain", "worker"}, code: exitUsage, errPart: "--pool is required", lsStatus: "online"},
		{args: []string{"agent", "drain", "--pool", "local"}, code: exitUsage, errPart: "missing NAME", lsStatus: "online"},
		{args: []string{"agent", "drain", "nobody", "--pool", "local"}, code: 1, errPart: `agent "nobody" not found`, lsStatus: "online"},
	}
	for _, s := range steps {
		r := ferry(s.args...)
		if r.code != s.code || r.stdout != s.out || !strings.Contains(r.stderr, s.errPart) {
			t.Errorf("ferry %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q",
				strings.Join(s.args, " "), r.code, r.stdout, r.stderr, s.code, s.out, s.errPart)
		}
		ls := ferry("agent", "ls", "--pool", "local")
		if ls.code != 0 || !strings.Contains(ls.stdout, "worker") || !strings.Contains(ls.stdout, s.lsStatus) {
			t.Errorf("after ferry %s, agent ls: exit %d, stdout %q; want status %q",
				strings.Join(s.args, " "), ls.code, ls.stdout, s.lsStatus)
		}
	}
}
