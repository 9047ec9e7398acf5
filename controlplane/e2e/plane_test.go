package e2e

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/server"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// Timings of the in-process control plane. They are measured on the fake
// clock, which only moves when a test advances it, so their size costs no
// wall time.
const (
	planeLease     = 30 * time.Second
	planeHeartbeat = 10 * time.Second
	planeOfferTTL  = 10 * time.Second
	planeGrace     = 30 * time.Second
)

// plane is a control plane served in process over real HTTP on loopback,
// with a fake clock, on a fresh database.
type plane struct {
	clock *clock.Fake
	app   *server.App
	pool  *pgxpool.Pool
	q     db.Querier
	url   string
	http  *http.Client
	// workspace is the default workspace; the clients below act in it as
	// its admin.
	workspace uuid.UUID
	clients
}

// clients are the API clients of one API key.
type clients struct {
	runs        ferryv1connect.RunServiceClient
	deployments ferryv1connect.DeploymentServiceClient
	pools       ferryv1connect.WorkPoolServiceClient
	tokens      ferryv1connect.AgentTokenServiceClient
}

// startPlane starts a control plane and registers its shutdown, followed by
// the invariant check of its database. opts adjust the server's settings.
func startPlane(t *testing.T, opts ...func(*server.Config)) *plane {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	logs := newTestLog(t)
	checkInvariants(t, pool)

	fake := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	st := store.New(pool)
	boot, err := bootstrap.Ensure(ctx, st, "", fake.Now())
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{
		LeaseDuration: planeLease, HeartbeatInterval: planeHeartbeat, KeepaliveInterval: time.Second,
		OfferTTL: planeOfferTTL, ReaperGrace: planeGrace,
	}
	for _, o := range opts {
		o(&cfg)
	}
	app, err := server.New(ctx, cfg, st, fake, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- app.Serve(serveCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	p := &plane{
		clock: fake, app: app, pool: pool, q: db.New(pool), url: "http://" + ln.Addr().String(),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}, workspace: boot.WorkspaceID,
	}
	t.Cleanup(p.http.CloseIdleConnections)
	p.clients = p.clientsFor(boot.AdminKey)
	return p
}

// clientsFor returns API clients sending key.
func (p *plane) clientsFor(key string) clients {
	opt := connect.WithInterceptors(bearer(key))
	return clients{
		runs:        ferryv1connect.NewRunServiceClient(p.http, p.url, opt),
		deployments: ferryv1connect.NewDeploymentServiceClient(p.http, p.url, opt),
		pools:       ferryv1connect.NewWorkPoolServiceClient(p.http, p.url, opt),
		tokens:      ferryv1connect.NewAgentTokenServiceClient(p.http, p.url, opt),
	}
}

// foreignWorkspace creates another workspace with an admin key and returns
// its clients.
func (p *plane) foreignWorkspace(t *testing.T) clients {
	t.Helper()
	ctx := context.Background()
	ws, err := p.q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "foreign", Now: p.clock.Now()})
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	if _, err := p.q.APIKeyInsert(ctx, db.APIKeyInsertParams{
		ID: uuid.New(), WorkspaceID: ws.ID, Name: "admin", Prefix: sec.Prefix,
		SecretHash: sec.Hash, Role: "admin", Now: p.clock.Now(),
	}); err != nil {
		t.Fatalf("create API key: %v", err)
	}
	return p.clientsFor(sec.Full)
}

// bearer sends a credential on every call.
type bearer string

// WrapUnary sets the header on unary calls.
func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

// WrapStreamingClient sets the header on streams.
func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

// WrapStreamingHandler leaves handlers alone: bearer is for clients.
func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// callCtx bounds one unary call of a test.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// deploymentOpts adjusts the spec setup applies.
type deploymentOpts func(*ferryv1.DeploymentSpec)

func withRetries(n int32, delay time.Duration) deploymentOpts {
	return func(s *ferryv1.DeploymentSpec) {
		s.Retry = &ferryv1.RetryPolicy{Retries: n, Delay: durationpb.New(delay)}
	}
}

func withSchema(schema string) deploymentOpts {
	return func(s *ferryv1.DeploymentSpec) { s.ParametersSchema = schema }
}

// setupDeployment applies the process pool "local" and a deployment named
// name on it, and returns an agent token for the pool.
func (p *plane) setupDeployment(t *testing.T, name string, opts ...deploymentOpts) string {
	t.Helper()
	ctx := callCtx(t)
	if _, err := p.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		t.Fatalf("apply pool: %v", err)
	}
	spec := &ferryv1.DeploymentSpec{Pool: "local", Command: []string{"echo", "hello"}}
	for _, o := range opts {
		o(spec)
	}
	if _, err := p.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: name, Spec: spec})); err != nil {
		t.Fatalf("apply deployment: %v", err)
	}
	tok, err := p.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "local", Name: "agent-" + uuid.NewString()[:8]}))
	if err != nil {
		t.Fatalf("create agent token: %v", err)
	}
	return tok.Msg.GetSecret()
}

// createRun starts a run of deployment with parameters (JSON, may be "").
func (p *plane) createRun(t *testing.T, deployment, parameters string) *ferryv1.Run {
	t.Helper()
	resp, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
		Run: &ferryv1.RunTemplate{Deployment: deployment, Parameters: parameters},
	}))
	if err != nil {
		t.Fatalf("create run: %v", err)
	}
	return resp.Msg.GetRun()
}

// getRun reads a run through the API.
func (p *plane) getRun(t *testing.T, id string) *ferryv1.Run {
	t.Helper()
	resp, err := p.runs.GetRun(callCtx(t), connect.NewRequest(&ferryv1.GetRunRequest{Id: id}))
	if err != nil {
		t.Fatalf("get run %s: %v", id, err)
	}
	return resp.Msg.GetRun()
}

// waitState waits until run id is in state (and, when name is not "",
// named name).
func (p *plane) waitState(t *testing.T, id string, state ferryv1.RunState, name string) *ferryv1.Run {
	t.Helper()
	var r *ferryv1.Run
	eventually(t, "run "+id+" reaches "+state.String(), func() error {
		r = p.getRun(t, id)
		if r.GetState() != state || name != "" && r.GetStateName() != name {
			return errors.New("run is " + r.GetState().String() + " (" + r.GetStateName() + ")")
		}
		return nil
	})
	return r
}

// history returns a run's state changes.
func (p *plane) history(t *testing.T, id string) []*ferryv1.RunStateChange {
	t.Helper()
	resp, err := p.runs.ListRunStateChanges(callCtx(t), connect.NewRequest(&ferryv1.ListRunStateChangesRequest{Id: id}))
	if err != nil {
		t.Fatalf("list state changes of %s: %v", id, err)
	}
	return resp.Msg.GetChanges()
}

// runCount counts the runs stored in every workspace.
func (p *plane) runCount(t *testing.T) int {
	t.Helper()
	rows, err := p.q.RunListAllStates(context.Background())
	if err != nil {
		t.Fatalf("count runs: %v", err)
	}
	return len(rows)
}

// expireLeases moves the clock by d and runs one lease sweep.
func (p *plane) expireLeases(t *testing.T, d time.Duration) {
	t.Helper()
	p.clock.Advance(d)
	if _, err := p.app.Reaper.Step(context.Background()); err != nil {
		t.Fatalf("lease sweep: %v", err)
	}
}
