package e2e

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// listedAgent returns the agent named name of pool "local" as ListAgents
// shows it.
func (p *plane) listedAgent(t *testing.T, name string) *ferryv1.Agent {
	t.Helper()
	resp, err := p.pools.ListAgents(callCtx(t), connect.NewRequest(&ferryv1.ListAgentsRequest{Pool: "local"}))
	if err != nil {
		t.Fatalf("list agents: %v", err)
	}
	for _, a := range resp.Msg.GetAgents() {
		if a.GetName() == name {
			return a
		}
	}
	t.Fatalf("agent %s is not listed", name)
	return nil
}

// TestOperatorDrainsAgent drains a connected agent through the API: it
// keeps the run it holds, its own heartbeats (draining=false) do not lift
// the request, it is offered no new run, and once undrained it is offered
// the waiting run.
func TestOperatorDrainsAgent(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.applyLimitedPool(t, 0)
	p.applyDeployment(t, "job", &ferryv1.DeploymentSpec{})
	worker := p.connectAgent(t, p.agentToken(t), "worker", 4)
	held := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	heldOrder := worker.orderFor(t, held.GetId())
	worker.mustClaim(t, heldOrder)
	worker.mustReport(t, lease(heldOrder), ferryv1.ReportKind_REPORT_KIND_STARTED, nil)

	drained, err := p.pools.DrainAgent(callCtx(t), connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local", Name: "worker"}))
	if err != nil {
		t.Fatalf("drain agent: %v", err)
	}
	a := drained.Msg.GetAgent()
	if !drained.Msg.GetChanged() || !a.GetDrainRequested() || a.GetDraining() || a.GetActiveRuns() != 1 ||
		!strings.HasPrefix(a.GetDrainRequestedBy(), "apikey:") || a.GetDrainRequestTime() == nil {
		t.Errorf("drain answered changed=%v agent %v; want changed, drain requested by the API key, not self-draining, 1 active run",
			drained.Msg.GetChanged(), a)
	}
	again, err := p.pools.DrainAgent(callCtx(t), connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local", Name: "worker"}))
	if err != nil {
		t.Fatalf("drain agent again: %v", err)
	}
	if again.Msg.GetChanged() || !again.Msg.GetAgent().GetDrainRequestTime().AsTime().Equal(a.GetDrainRequestTime().AsTime()) {
		t.Errorf("a second drain answered changed=%v, request time %v; want unchanged, first time %v",
			again.Msg.GetChanged(), again.Msg.GetAgent().GetDrainRequestTime().AsTime(), a.GetDrainRequestTime().AsTime())
	}

	// The agent's heartbeat says it is not draining itself; the operator's
	// request stands, and the held run's lease is renewed as before.
	hb := worker.heartbeat(t, lease(heldOrder))
	if len(hb.GetLost()) != 0 || hb.GetResubscribe() {
		t.Fatalf("heartbeat of the drained agent: %v; want its run kept", hb)
	}
	if got := p.listedAgent(t, "worker"); !got.GetDrainRequested() || got.GetDraining() || !got.GetOnline() {
		t.Fatalf("after a heartbeat with draining=false, listed agent %v; want online, drain requested", got)
	}

	waiting := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	// Were the run offered to the drained agent, it would read OFFERED.
	p.wantReason(t, waiting.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_DRAINING)
	if n := len(worker.orders); n != 0 {
		t.Fatalf("the drained agent received %d work orders", n)
	}
	if r := p.getRun(t, waiting.GetId()); r.GetState() != ferryv1.RunState_RUN_STATE_SCHEDULED {
		t.Fatalf("the waiting run is %v; want SCHEDULED", r.GetState())
	}

	undrained, err := p.pools.UndrainAgent(callCtx(t), connect.NewRequest(&ferryv1.UndrainAgentRequest{Pool: "local", Name: "worker"}))
	if err != nil {
		t.Fatalf("undrain agent: %v", err)
	}
	if u := undrained.Msg.GetAgent(); !undrained.Msg.GetChanged() || u.GetDrainRequested() || u.GetDrainRequestedBy() != "" ||
		u.GetDrainRequestTime() != nil {
		t.Errorf("undrain answered changed=%v agent %v; want changed, no drain request", undrained.Msg.GetChanged(), u)
	}
	worker.mustClaim(t, worker.orderFor(t, waiting.GetId()))
	worker.mustReport(t, lease(heldOrder), ferryv1.ReportKind_REPORT_KIND_COMPLETED, exit(0))

	// The interceptor audits both calls with the agent as their resource.
	var n int
	if err := p.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events
		WHERE workspace_id = $1 AND code = 'ok' AND resource LIKE '%worker%'
		  AND procedure IN ('/ferry.v1.WorkPoolService/DrainAgent', '/ferry.v1.WorkPoolService/UndrainAgent')`,
		p.workspace).Scan(&n); err != nil {
		t.Fatalf("count audit events: %v", err)
	}
	if n != 3 {
		t.Errorf("%d audit events of drain and undrain; want 3", n)
	}
}

// TestDrainAgentRefusals checks who may drain which agent: a viewer is
// denied, another workspace does not find the agent, bad input names the
// field; none of them changes the agent.
func TestDrainAgentRefusals(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.applyLimitedPool(t, 0)
	p.connectAgent(t, p.agentToken(t), "worker", 1)
	viewer := p.clientsFor(p.apiKey(t, p.workspace, "viewer"))
	foreign := p.foreignWorkspace(t)
	// The other workspace has a pool of the same name, so only the agent
	// is missing there.
	if _, err := foreign.pools.ApplyWorkPool(callCtx(t), connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		t.Fatalf("apply foreign pool: %v", err)
	}

	tests := []struct {
		name    string
		call    func(ctx context.Context) error
		code    connect.Code
		message string
	}{
		{"viewer drains", func(ctx context.Context) error {
			_, err := viewer.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local", Name: "worker"}))
			return err
		}, connect.CodePermissionDenied, "agents.drain"},
		{"other workspace drains", func(ctx context.Context) error {
			_, err := foreign.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local", Name: "worker"}))
			return err
		}, connect.CodeNotFound, `agent "worker" not found`},
		{"other workspace undrains", func(ctx context.Context) error {
			_, err := foreign.pools.UndrainAgent(ctx, connect.NewRequest(&ferryv1.UndrainAgentRequest{Pool: "local", Name: "worker"}))
			return err
		}, connect.CodeNotFound, `agent "worker" not found`},
		{"unknown agent", func(ctx context.Context) error {
			_, err := p.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local", Name: "nobody"}))
			return err
		}, connect.CodeNotFound, `agent "nobody" not found`},
		{"unknown pool", func(ctx context.Context) error {
			_, err := p.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "elsewhere", Name: "worker"}))
			return err
		}, connect.CodeNotFound, `work pool "elsewhere" not found`},
		{"no name", func(ctx context.Context) error {
			_, err := p.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: "local"}))
			return err
		}, connect.CodeInvalidArgument, "name"},
		{"bad pool name", func(ctx context.Context) error {
			_, err := p.pools.UndrainAgent(ctx, connect.NewRequest(&ferryv1.UndrainAgentRequest{Pool: "Not A Name", Name: "worker"}))
			return err
		}, connect.CodeInvalidArgument, "pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(callCtx(t))
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("got %v; want %v mentioning %q", err, tt.code, tt.message)
			}
		})
	}
	if a := p.listedAgent(t, "worker"); a.GetDrainRequested() {
		t.Errorf("after the refused calls the agent is drain-requested: %v", a)
	}
}
