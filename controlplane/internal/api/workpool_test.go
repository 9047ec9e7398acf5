package api

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	poolTestProcess = ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS
	poolTestDocker  = ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER
)

func TestApplyWorkPool(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	t0 := e.clock.Now()
	apply := func(req *ferryv1.ApplyWorkPoolRequest) (*ferryv1.ApplyWorkPoolResponse, error) {
		resp, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}

	got, err := apply(&ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: poolTestProcess, Description: "nightly"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	want := &ferryv1.ApplyWorkPoolResponse{
		Created: true,
		WorkPool: &ferryv1.WorkPool{
			Name: "etl", Type: poolTestProcess, Description: "nightly",
			CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t0),
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("create (-want +got):\n%s", diff)
	}
	queues, err := e.pools.ListWorkQueues(ctx, connect.NewRequest(&ferryv1.ListWorkQueuesRequest{Pool: "etl"}))
	if err != nil {
		t.Fatalf("ListWorkQueues: %v", err)
	}
	wantQueues := []*ferryv1.WorkQueue{{
		Pool: "etl", Name: "default", CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t0),
	}}
	if diff := cmp.Diff(wantQueues, queues.Msg.GetWorkQueues(), protocmp.Transform()); diff != "" {
		t.Fatalf("queues of a new pool (-want +got):\n%s", diff)
	}

	// The same request again changes nothing, not even the update time.
	e.clock.Advance(time.Minute)
	got, err = apply(&ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: poolTestProcess, Description: "nightly"})
	if err != nil {
		t.Fatalf("unchanged apply: %v", err)
	}
	want.Created = false
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("unchanged apply (-want +got):\n%s", diff)
	}

	e.clock.Advance(time.Minute)
	t2 := e.clock.Now()
	got, err = apply(&ferryv1.ApplyWorkPoolRequest{
		Name: "etl", Type: poolTestProcess, Description: "hourly", Paused: true, ConcurrencyLimit: 3,
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	want.WorkPool.Description = "hourly"
	want.WorkPool.Paused = true
	want.WorkPool.ConcurrencyLimit = 3
	want.WorkPool.UpdateTime = timestamppb.New(t2)
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("update (-want +got):\n%s", diff)
	}

	// A type change is refused and writes nothing.
	_, err = apply(&ferryv1.ApplyWorkPoolRequest{Name: "etl", Type: poolTestDocker, Description: "moved"})
	poolTestWantCode(t, err, connect.CodeFailedPrecondition,
		`work pool "etl" is of type process; its type cannot change, create a new pool`)
	stored, err := e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "etl"}))
	if err != nil {
		t.Fatalf("GetWorkPool: %v", err)
	}
	if diff := cmp.Diff(want.WorkPool, stored.Msg.GetWorkPool(), protocmp.Transform()); diff != "" {
		t.Fatalf("pool after refused type change (-want +got):\n%s", diff)
	}

	e.applyPool(t, "alpha", poolTestDocker)
	list, err := e.pools.ListWorkPools(ctx, connect.NewRequest(&ferryv1.ListWorkPoolsRequest{}))
	if err != nil {
		t.Fatalf("ListWorkPools: %v", err)
	}
	var names []string
	for _, p := range list.Msg.GetWorkPools() {
		names = append(names, p.GetName())
	}
	if diff := cmp.Diff([]string{"alpha", "etl"}, names); diff != "" {
		t.Fatalf("ListWorkPools names (-want +got):\n%s", diff)
	}
}

func TestApplyWorkPoolConcurrent(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()

	const appliers = 8
	created := make([]bool, appliers)
	errs := e.together(t, appliers, func(i int) error {
		resp, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
			Name: "burst", Type: poolTestProcess,
		}))
		if err == nil {
			created[i] = resp.Msg.GetCreated()
		}
		return err
	})

	creators := 0
	for i := range appliers {
		if errs[i] != nil {
			t.Errorf("apply %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d applies reported created, want 1", creators)
	}
	queues, err := e.pools.ListWorkQueues(ctx, connect.NewRequest(&ferryv1.ListWorkQueuesRequest{Pool: "burst"}))
	if err != nil {
		t.Fatalf("ListWorkQueues: %v", err)
	}
	if n := len(queues.Msg.GetWorkQueues()); n != 1 {
		t.Errorf("pool has %d queues, want only the default one", n)
	}
}

func TestApplyWorkQueue(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)

	steps := []struct {
		name        string
		req         *ferryv1.ApplyWorkQueueRequest
		wantCreated bool
	}{
		{"create", &ferryv1.ApplyWorkQueueRequest{Pool: "etl", Name: "urgent", Priority: 10}, true},
		{"update", &ferryv1.ApplyWorkQueueRequest{Pool: "etl", Name: "urgent", Priority: 20, ConcurrencyLimit: 2}, false},
		{"create low", &ferryv1.ApplyWorkQueueRequest{Pool: "etl", Name: "low", Priority: -5, Paused: true}, true},
		{"update default", &ferryv1.ApplyWorkQueueRequest{Pool: "etl", Name: "default", Priority: 1}, false},
	}
	for _, s := range steps {
		resp, err := e.pools.ApplyWorkQueue(ctx, connect.NewRequest(s.req))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if resp.Msg.GetCreated() != s.wantCreated {
			t.Errorf("%s: created = %v, want %v", s.name, resp.Msg.GetCreated(), s.wantCreated)
		}
		q := resp.Msg.GetWorkQueue()
		if q.GetPool() != "etl" || q.GetName() != s.req.GetName() || q.GetPriority() != s.req.GetPriority() ||
			q.GetPaused() != s.req.GetPaused() || q.GetConcurrencyLimit() != s.req.GetConcurrencyLimit() {
			t.Errorf("%s: queue %v does not match request %v", s.name, q, s.req)
		}
	}

	list, err := e.pools.ListWorkQueues(ctx, connect.NewRequest(&ferryv1.ListWorkQueuesRequest{Pool: "etl"}))
	if err != nil {
		t.Fatalf("ListWorkQueues: %v", err)
	}
	var order []string
	for _, q := range list.Msg.GetWorkQueues() {
		order = append(order, q.GetName())
	}
	if diff := cmp.Diff([]string{"urgent", "default", "low"}, order); diff != "" {
		t.Errorf("queue order (-want +got):\n%s", diff)
	}

	_, err = e.pools.ApplyWorkQueue(ctx, connect.NewRequest(&ferryv1.ApplyWorkQueueRequest{Pool: "nope", Name: "q"}))
	poolTestWantCode(t, err, connect.CodeNotFound, `work pool "nope" not found`)
}

func TestDeleteWorkPool(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	del := func(name string) error {
		_, err := e.pools.DeleteWorkPool(ctx, connect.NewRequest(&ferryv1.DeleteWorkPoolRequest{Name: name}))
		return err
	}

	// An unused pool goes, with its queues and tokens.
	e.applyPool(t, "spare", poolTestProcess)
	if _, err := e.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{
		Pool: "spare", Name: "a1",
	})); err != nil {
		t.Fatalf("CreateAgentToken: %v", err)
	}
	if err := del("spare"); err != nil {
		t.Fatalf("delete unused pool: %v", err)
	}
	_, err := e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "spare"}))
	poolTestWantCode(t, err, connect.CodeNotFound, `work pool "spare" not found`)
	var tokens int
	if err := e.store.Pool.QueryRow(ctx, `SELECT count(*) FROM agent_tokens`).Scan(&tokens); err != nil {
		t.Fatalf("count tokens: %v", err)
	}
	if tokens != 0 {
		t.Errorf("%d agent tokens left after deleting their pool", tokens)
	}
	poolTestWantCode(t, del("spare"), connect.CodeNotFound, `work pool "spare" not found`)

	// A pool in use by a deployment, then by a finished run, stays.
	e.applyPool(t, "busy", poolTestProcess)
	e.applyDeployment(t, "job", &ferryv1.DeploymentSpec{Pool: "busy", Command: []string{"true"}})
	poolTestWantCode(t, del("busy"), connect.CodeFailedPrecondition, `work pool "busy" is used by 1 deployments`)
	run := e.insertTestRun(t, e.ws, "job")
	e.finishTestRun(t, run)
	if _, err := e.deployments.DeleteDeployment(ctx, connect.NewRequest(&ferryv1.DeleteDeploymentRequest{Name: "job"})); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	poolTestWantCode(t, del("busy"), connect.CodeFailedPrecondition, `work pool "busy" is referenced by 1 runs`)
	if _, err := e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "busy"})); err != nil {
		t.Errorf("pool gone after refused delete: %v", err)
	}
}

func TestListAgents(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	pool, err := e.store.Q.WorkPoolGetByName(ctx, db.WorkPoolGetByNameParams{WorkspaceID: e.ws, Name: "etl"})
	if err != nil {
		t.Fatalf("get pool: %v", err)
	}
	token, err := e.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "etl", Name: "agents"}))
	if err != nil {
		t.Fatalf("CreateAgentToken: %v", err)
	}
	tokenID := uuid.MustParse(token.Msg.GetToken().GetId())
	t0 := e.clock.Now()
	connectAgent := func(name string) db.Agent {
		t.Helper()
		a, err := e.store.Q.AgentUpsertSession(ctx, db.AgentUpsertSessionParams{
			ID: uuid.New(), WorkspaceID: e.ws, PoolID: pool.ID, Name: name, Version: "1.0.0",
			Capacity: 4, SessionID: uuid.New(), TokenID: tokenID, Now: t0,
		})
		if err != nil {
			t.Fatalf("connect agent %s: %v", name, err)
		}
		return a
	}
	alive := connectAgent("alive")
	gone := connectAgent("gone")
	if err := e.store.Q.AgentDisconnect(ctx, db.AgentDisconnectParams{SessionID: gone.SessionID, Now: t0}); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	// alive holds a lease on one run.
	e.applyDeployment(t, "job", &ferryv1.DeploymentSpec{Pool: "etl", Command: []string{"true"}})
	run := e.insertTestRun(t, e.ws, "job")
	if _, err := e.store.Pool.Exec(ctx,
		`UPDATE runs SET state = 'RUNNING', state_name = 'Running', agent_id = $1, lease_expire_time = $2 WHERE id = $3`,
		alive.ID, t0.Add(time.Minute), run); err != nil {
		t.Fatalf("lease run: %v", err)
	}

	agent := func(a db.Agent, online bool, activeRuns int32) *ferryv1.Agent {
		return &ferryv1.Agent{
			Id: a.ID.String(), Name: a.Name, Pool: "etl", Version: "1.0.0", Capacity: 4, Online: online,
			ConnectTime: timestamppb.New(t0), LastHeartbeatTime: timestamppb.New(t0), ActiveRuns: activeRuns,
		}
	}
	tests := []struct {
		name  string
		after time.Duration
		want  []*ferryv1.Agent
	}{
		{"fresh", 0, []*ferryv1.Agent{agent(alive, true, 1), agent(gone, false, 0)}},
		{"three intervals late", 3 * poolTestHeartbeat, []*ferryv1.Agent{agent(alive, true, 1), agent(gone, false, 0)}},
		{"past three intervals", 3*poolTestHeartbeat + time.Millisecond, []*ferryv1.Agent{agent(alive, false, 1), agent(gone, false, 0)}},
	}
	for _, tt := range tests {
		e.clock.Set(t0.Add(tt.after))
		resp, err := e.pools.ListAgents(ctx, connect.NewRequest(&ferryv1.ListAgentsRequest{Pool: "etl"}))
		if err != nil {
			t.Fatalf("%s: ListAgents: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, resp.Msg.GetAgents(), protocmp.Transform()); diff != "" {
			t.Errorf("%s: agents (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestForeignWorkspaceNotFound checks that every call naming a resource of
// another workspace answers NotFound, as for a missing one.
func TestForeignWorkspaceNotFound(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "shared", poolTestProcess)
	e.applyDeployment(t, "job", &ferryv1.DeploymentSpec{Pool: "shared", Command: []string{"true"}})
	token, err := e.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "shared", Name: "a"}))
	if err != nil {
		t.Fatalf("CreateAgentToken: %v", err)
	}
	other := e.clientsFor(e.other)

	calls := []struct {
		name    string
		call    func() error
		message string
	}{
		{"GetWorkPool", func() error {
			_, err := other.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"DeleteWorkPool", func() error {
			_, err := other.pools.DeleteWorkPool(ctx, connect.NewRequest(&ferryv1.DeleteWorkPoolRequest{Name: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"ApplyWorkQueue", func() error {
			_, err := other.pools.ApplyWorkQueue(ctx, connect.NewRequest(&ferryv1.ApplyWorkQueueRequest{Pool: "shared", Name: "q"}))
			return err
		}, `work pool "shared" not found`},
		{"ListWorkQueues", func() error {
			_, err := other.pools.ListWorkQueues(ctx, connect.NewRequest(&ferryv1.ListWorkQueuesRequest{Pool: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"ListAgents", func() error {
			_, err := other.pools.ListAgents(ctx, connect.NewRequest(&ferryv1.ListAgentsRequest{Pool: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"ApplyDeployment", func() error {
			_, err := other.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
				Name: "job", Spec: &ferryv1.DeploymentSpec{Pool: "shared", Command: []string{"true"}},
			}))
			return err
		}, `work pool "shared" not found`},
		{"GetDeployment", func() error {
			_, err := other.deployments.GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{Name: "job"}))
			return err
		}, `deployment "job" not found`},
		{"ListDeployments by pool", func() error {
			_, err := other.deployments.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{Pool: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"ListDeploymentVersions", func() error {
			_, err := other.deployments.ListDeploymentVersions(ctx, connect.NewRequest(&ferryv1.ListDeploymentVersionsRequest{Name: "job"}))
			return err
		}, `deployment "job" not found`},
		{"DeleteDeployment", func() error {
			_, err := other.deployments.DeleteDeployment(ctx, connect.NewRequest(&ferryv1.DeleteDeploymentRequest{Name: "job"}))
			return err
		}, `deployment "job" not found`},
		{"CreateAgentToken", func() error {
			_, err := other.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "shared", Name: "b"}))
			return err
		}, `work pool "shared" not found`},
		{"ListAgentTokens", func() error {
			_, err := other.tokens.ListAgentTokens(ctx, connect.NewRequest(&ferryv1.ListAgentTokensRequest{Pool: "shared"}))
			return err
		}, `work pool "shared" not found`},
		{"RevokeAgentToken", func() error {
			_, err := other.tokens.RevokeAgentToken(ctx, connect.NewRequest(&ferryv1.RevokeAgentTokenRequest{Id: token.Msg.GetToken().GetId()}))
			return err
		}, `agent token "` + token.Msg.GetToken().GetId() + `" not found`},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			poolTestWantCode(t, c.call(), connect.CodeNotFound, c.message)
		})
	}

	// The other workspace sees nothing in its lists and may use the same names.
	pools, err := other.pools.ListWorkPools(ctx, connect.NewRequest(&ferryv1.ListWorkPoolsRequest{}))
	if err != nil || len(pools.Msg.GetWorkPools()) != 0 {
		t.Errorf("other workspace lists pools %v, %v; want none", pools, err)
	}
	deployments, err := other.deployments.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{}))
	if err != nil || len(deployments.Msg.GetDeployments()) != 0 {
		t.Errorf("other workspace lists deployments %v, %v; want none", deployments, err)
	}
	if !other.applyPool(t, "shared", poolTestDocker).GetCreated() {
		t.Errorf("other workspace's pool \"shared\" was not created")
	}
	if e.revokes.Load() != 0 {
		t.Errorf("OnRevoke called %d times for refused revocations", e.revokes.Load())
	}

	// Nothing the other workspace tried touched the first one's resources.
	got, err := e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "shared"}))
	if err != nil || got.Msg.GetWorkPool().GetType() != poolTestProcess {
		t.Errorf("pool after foreign calls: %v, %v", got, err)
	}
	list, err := e.tokens.ListAgentTokens(ctx, connect.NewRequest(&ferryv1.ListAgentTokensRequest{Pool: "shared"}))
	if err != nil || len(list.Msg.GetTokens()) != 1 || list.Msg.GetTokens()[0].GetRevokeTime() != nil {
		t.Errorf("tokens after foreign calls: %v, %v", list, err)
	}
}
