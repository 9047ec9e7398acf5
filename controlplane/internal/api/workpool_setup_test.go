package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// poolTestWorkspaceHeader carries the workspace a test request acts in; the
// test server's interceptor turns it into the request's principal.
const poolTestWorkspaceHeader = "Ferry-Test-Workspace"

// poolTestSubject is the subject of every test principal.
const poolTestSubject = "apikey:tester"

// poolTestEnv serves the work pool, deployment and agent token services over
// real HTTP on one fresh database.
type poolTestEnv struct {
	store *store.Store
	clock *clock.Fake
	url   string
	// http keeps enough idle connections for the concurrency tests, so
	// their requests are not spread out by connection setup.
	http *http.Client
	// ws and other are two workspaces; clients of ws are in the fields
	// below, clients of other come from [poolTestEnv.clientsFor].
	ws    uuid.UUID
	other uuid.UUID
	poolTestClients
	// revokes counts calls of AgentTokenServer.OnRevoke.
	revokes atomic.Int32
}

// poolTestClients are the clients of one workspace.
type poolTestClients struct {
	pools       ferryv1connect.WorkPoolServiceClient
	deployments ferryv1connect.DeploymentServiceClient
	tokens      ferryv1connect.AgentTokenServiceClient
}

// poolTestHeartbeat is the heartbeat interval the test WorkPoolServer uses.
const poolTestHeartbeat = 5 * time.Second

func setupPoolEnv(t *testing.T) *poolTestEnv {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &poolTestEnv{store: st, clock: fake}
	for _, ws := range []*uuid.UUID{&e.ws, &e.other} {
		row, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: uuid.NewString(), Now: fake.Now()})
		if err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
		*ws = row.ID
	}

	opts := connect.WithInterceptors(poolTestPrincipalInterceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&WorkPoolServer{
		Store: st, Clock: fake, Log: log, HeartbeatInterval: poolTestHeartbeat,
	}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&DeploymentServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewAgentTokenServiceHandler(&AgentTokenServer{
		Store: st, Clock: fake, Log: log, OnRevoke: func() { e.revokes.Add(1) },
	}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(e.http.CloseIdleConnections)
	e.poolTestClients = e.clientsFor(e.ws)
	return e
}

// clientsFor returns clients acting in workspace ws.
func (e *poolTestEnv) clientsFor(ws uuid.UUID) poolTestClients {
	opts := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(poolTestWorkspaceHeader, ws.String())
			return next(ctx, req)
		}
	}))
	return poolTestClients{
		pools:       ferryv1connect.NewWorkPoolServiceClient(e.http, e.url, opts),
		deployments: ferryv1connect.NewDeploymentServiceClient(e.http, e.url, opts),
		tokens:      ferryv1connect.NewAgentTokenServiceClient(e.http, e.url, opts),
	}
}

// poolTestPrincipalInterceptor authenticates every request as an API key of
// the workspace named by its [poolTestWorkspaceHeader].
func poolTestPrincipalInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			ws, err := uuid.Parse(req.Header().Get(poolTestWorkspaceHeader))
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("no test workspace"))
			}
			return next(auth.WithPrincipal(ctx, auth.Principal{
				Kind:        auth.KindAPIKey,
				WorkspaceID: ws,
				Subject:     poolTestSubject,
				Role:        "admin",
			}), req)
		}
	}
}

// applyPool creates or updates a pool and fails the test on error.
func (c poolTestClients) applyPool(t *testing.T, name string, typ ferryv1.WorkPoolType) *ferryv1.ApplyWorkPoolResponse {
	t.Helper()
	resp, err := c.pools.ApplyWorkPool(context.Background(), connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: name, Type: typ,
	}))
	if err != nil {
		t.Fatalf("ApplyWorkPool(%s): %v", name, err)
	}
	return resp.Msg
}

// applyDeployment applies a deployment and fails the test on error.
func (c poolTestClients) applyDeployment(t *testing.T, name string, spec *ferryv1.DeploymentSpec) *ferryv1.ApplyDeploymentResponse {
	t.Helper()
	resp, err := c.deployments.ApplyDeployment(context.Background(), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: name, Spec: spec,
	}))
	if err != nil {
		t.Fatalf("ApplyDeployment(%s): %v", name, err)
	}
	return resp.Msg
}

// insertTestRun inserts one SCHEDULED run of the current version of the
// named deployment of workspace ws and returns its id.
func (e *poolTestEnv) insertTestRun(t *testing.T, ws uuid.UUID, deployment string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	d, err := e.store.Q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: ws, Name: deployment})
	if err != nil {
		t.Fatalf("get deployment %s: %v", deployment, err)
	}
	now := e.clock.Now()
	runs, err := e.store.Q.RunInsertMany(ctx, db.RunInsertManyParams{
		WorkspaceID:        ws,
		Now:                now,
		CreatedBy:          poolTestSubject,
		Ids:                []uuid.UUID{uuid.New()},
		DeploymentIds:      []uuid.UUID{d.ID},
		DeploymentVersions: []int32{d.CurrentVersion},
		PoolIds:            []uuid.UUID{d.PoolID},
		QueueIds:           []uuid.UUID{d.QueueID},
		MaxAttempts:        []int32{1},
		Parameters:         []string{"{}"},
		IdempotencyKeys:    []string{""},
		Priorities:         []int32{0},
		Tags:               []string{"[]"},
		ExpectedStartTimes: []time.Time{now},
		RetryDelaysMs:      []int64{0},
		RetryOns:           []int32{0},
		TimeoutsMs:         []int64{0},
	})
	if err != nil || len(runs) != 1 {
		t.Fatalf("insert run: %d runs, %v", len(runs), err)
	}
	return runs[0].ID
}

// together runs call n times at once, after warming up as many HTTP and
// database connections, and returns the errors of the calls.
func (e *poolTestEnv) together(t *testing.T, n int, call func(i int) error) []error {
	t.Helper()
	run := func(call func(i int) error) []error {
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = call(i)
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	warm := run(func(int) error {
		_, err := e.pools.ListWorkPools(context.Background(), connect.NewRequest(&ferryv1.ListWorkPoolsRequest{}))
		return err
	})
	for _, err := range warm {
		if err != nil {
			t.Fatalf("warm up: %v", err)
		}
	}
	return run(call)
}

// finishTestRun moves a run to COMPLETED directly in the database, as the
// run state machine would at the end of a successful attempt.
func (e *poolTestEnv) finishTestRun(t *testing.T, id uuid.UUID) {
	t.Helper()
	_, err := e.store.Pool.Exec(context.Background(),
		`UPDATE runs SET state = 'COMPLETED', state_name = 'Completed' WHERE id = $1`, id)
	if err != nil {
		t.Fatalf("finish run: %v", err)
	}
}

// poolTestWantCode checks that err is a Connect error with code and, when
// messagePart is not empty, a message containing it.
func poolTestWantCode(t *testing.T, err error, code connect.Code, messagePart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("got code %v (%v), want %v", got, err, code)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a Connect error", err)
	}
	if !strings.Contains(ce.Message(), messagePart) {
		t.Fatalf("message %q does not contain %q", ce.Message(), messagePart)
	}
}
