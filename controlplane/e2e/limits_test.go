package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	"github.com/ferryhq/ferry/controlplane/internal/limits"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// limitClients are admin clients of ConcurrencyLimitService and PauseService.
type limitClients struct {
	limits ferryv1connect.ConcurrencyLimitServiceClient
	pause  ferryv1connect.PauseServiceClient
}

// serveLimits serves ConcurrencyLimitService and PauseService over the
// plane's store, clock and authenticator on a second loopback listener
// (the plane's own handler is assembled by package server), and returns
// clients of them acting as a new admin key of the plane's workspace.
func (p *plane) serveLimits(t *testing.T) limitClients {
	t.Helper()
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	if _, err := p.q.APIKeyInsert(context.Background(), db.APIKeyInsertParams{
		ID: uuid.New(), WorkspaceID: p.workspace, Name: "limits-admin", Prefix: sec.Prefix,
		SecretHash: sec.Hash, Role: "admin", Now: p.clock.Now(),
	}); err != nil {
		t.Fatalf("create API key: %v", err)
	}
	opts := connect.WithHandlerOptions(connect.WithInterceptors(p.app.Auth.Interceptor(), validate.Interceptor()))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewConcurrencyLimitServiceHandler(&api.ConcurrencyLimitServer{Store: p.app.Store, Clock: p.clock, Log: log}, opts))
	mux.Handle(ferryv1connect.NewPauseServiceHandler(&api.PauseServer{Store: p.app.Store, Clock: p.clock, Log: log}, opts))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	key := connect.WithInterceptors(bearer(sec.Full))
	return limitClients{
		limits: ferryv1connect.NewConcurrencyLimitServiceClient(p.http, url, key),
		pause:  ferryv1connect.NewPauseServiceClient(p.http, url, key),
	}
}

// queueSpec is a queue of the pool "local".
type queueSpec struct {
	name     string
	priority int32
	limit    int32
}

// applyLimitedPool applies the process pool "local" with a concurrency
// limit and its queues, and returns an agent token factory.
func (p *plane) applyLimitedPool(t *testing.T, limit int32, queues ...queueSpec) {
	t.Helper()
	ctx := callCtx(t)
	if _, err := p.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS, ConcurrencyLimit: limit,
	})); err != nil {
		t.Fatalf("apply pool: %v", err)
	}
	for _, q := range queues {
		if _, err := p.pools.ApplyWorkQueue(ctx, connect.NewRequest(&ferryv1.ApplyWorkQueueRequest{
			Pool: "local", Name: q.name, Priority: q.priority, ConcurrencyLimit: q.limit,
		})); err != nil {
			t.Fatalf("apply queue %s: %v", q.name, err)
		}
	}
}

// applyDeployment applies a deployment of pool "local".
func (p *plane) applyDeployment(t *testing.T, name string, spec *ferryv1.DeploymentSpec) {
	t.Helper()
	spec.Pool = "local"
	spec.Command = []string{"echo", "hello"}
	if _, err := p.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: name, Spec: spec})); err != nil {
		t.Fatalf("apply deployment %s: %v", name, err)
	}
}

// agentToken issues a token of pool "local".
func (p *plane) agentToken(t *testing.T) string {
	t.Helper()
	tok, err := p.tokens.CreateAgentToken(callCtx(t), connect.NewRequest(&ferryv1.CreateAgentTokenRequest{
		Pool: "local", Name: "agent-" + uuid.NewString()[:8],
	}))
	if err != nil {
		t.Fatalf("create agent token: %v", err)
	}
	return tok.Msg.GetSecret()
}

// startRun creates a run from a template.
func (p *plane) startRun(t *testing.T, tmpl *ferryv1.RunTemplate) *ferryv1.Run {
	t.Helper()
	resp, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{Run: tmpl}))
	if err != nil {
		t.Fatalf("create run: %v", err)
	}
	return resp.Msg.GetRun()
}

// explain calls ExplainRun.
func (p *plane) explain(t *testing.T, id string) []*ferryv1.WaitReason {
	t.Helper()
	resp, err := p.runs.ExplainRun(callCtx(t), connect.NewRequest(&ferryv1.ExplainRunRequest{Id: id}))
	if err != nil {
		t.Fatalf("explain run %s: %v", id, err)
	}
	return resp.Msg.GetReasons()
}

// reasonCodes lists the codes of reasons.
func reasonCodes(rs []*ferryv1.WaitReason) []ferryv1.WaitReasonCode {
	var out []ferryv1.WaitReasonCode
	for _, r := range rs {
		out = append(out, r.GetCode())
	}
	return out
}

// wantReason fails the test unless run id's explanation has a reason of
// code, and returns it.
func (p *plane) wantReason(t *testing.T, id string, code ferryv1.WaitReasonCode) *ferryv1.WaitReason {
	t.Helper()
	var found *ferryv1.WaitReason
	eventually(t, "run "+id+" explained by "+code.String(), func() error {
		rs := p.explain(t, id)
		for _, r := range rs {
			if r.GetCode() == code {
				found = r
				return nil
			}
		}
		return fmt.Errorf("reasons %v", reasonCodes(rs))
	})
	return found
}

// burstAgent is a scripted agent of the burst test and the runs it holds.
type burstAgent struct {
	*scriptedAgent
	alive bool
	// held maps a run to its lease and the iteration it was started in.
	held map[string]heldRun
}

type heldRun struct {
	lease *ferryv1.RunLease
	since int
}

// TestLimitBurst sends 50 runs through a pool limited to 3 active runs,
// one of whose queues is limited to 1, across 4 agents, with cancels and an
// agent killed midway. Every run must finish, and the invariant check,
// replaying the state history, must find no limit ever exceeded.
func TestLimitBurst(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.applyLimitedPool(t, 3, queueSpec{name: "a", limit: 1}, queueSpec{name: "b"}, queueSpec{name: "c"})
	for _, q := range []string{"a", "b", "c"} {
		p.applyDeployment(t, "job-"+q, &ferryv1.DeploymentSpec{Queue: q})
	}
	var templates []*ferryv1.RunTemplate
	for i := range 50 {
		templates = append(templates, &ferryv1.RunTemplate{Deployment: "job-" + []string{"a", "b", "c"}[i%3]})
	}
	created, err := p.runs.CreateRuns(callCtx(t), connect.NewRequest(&ferryv1.CreateRunsRequest{Runs: templates}))
	if err != nil {
		t.Fatalf("create runs: %v", err)
	}
	runIDs := make([]string, 0, 50)
	for _, r := range created.Msg.GetRuns() {
		runIDs = append(runIDs, r.GetId())
	}
	agents := make([]*burstAgent, 4)
	for i := range agents {
		agents[i] = &burstAgent{
			scriptedAgent: p.connectAgent(t, p.agentToken(t), fmt.Sprintf("burst-%d", i), 2),
			alive:         true, held: make(map[string]heldRun),
		}
	}

	ctx := context.Background()
	var maxPool, maxQueueA int
	deadline := time.Now().Add(3 * waitTimeout)
	idle := 0
	for iter := 0; ; iter++ {
		if time.Now().After(deadline) {
			t.Fatalf("runs still active after %s", 3*waitTimeout)
		}
		progressed := false
		for _, a := range agents {
			if a.alive && a.step(t, iter) {
				progressed = true
			}
		}
		switch iter {
		case 3:
			// Cancel a few runs, whatever they are doing by now.
			for _, id := range runIDs[10:16] {
				_, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: id, Reason: "burst cancel"}))
				if code, _ := errCode(err); err != nil && code != connect.CodeFailedPrecondition {
					t.Fatalf("cancel run %s: %v", id, err)
				}
			}
		case 5:
			// Kill an agent that holds runs; its leases expire on the fake
			// clock while the others heartbeat.
			victim := agents[3]
			victim.stop()
			victim.alive = false
			for range 8 {
				for _, a := range agents {
					if a.alive {
						var live []*ferryv1.RunLease
						for _, h := range a.held {
							live = append(live, h.lease)
						}
						a.heartbeat(t, live...)
					}
				}
				p.expireLeases(t, planeHeartbeat)
			}
		}

		pool, queueA, open := p.burstCounts(t, ctx)
		maxPool, maxQueueA = max(maxPool, pool), max(maxQueueA, queueA)
		if pool > 3 || queueA > 1 {
			t.Fatalf("iteration %d: %d runs claimed in the pool, %d in queue a; limits are 3 and 1", iter, pool, queueA)
		}
		if open == 0 {
			break
		}
		if progressed {
			idle = 0
			continue
		}
		time.Sleep(pollInterval)
		// Time on the fake clock moves only when the test moves it. An
		// offer whose claim was refused (its limit filled meanwhile) holds
		// its run until the offer expires, as real time would make it do:
		// after a second without progress, let offers lapse while the live
		// agents keep their leases.
		if idle++; idle == 50 {
			idle = 0
			for _, a := range agents {
				if a.alive {
					var live []*ferryv1.RunLease
					for _, h := range a.held {
						live = append(live, h.lease)
					}
					a.heartbeat(t, live...)
				}
			}
			p.expireLeases(t, planeOfferTTL+time.Second)
		}
	}
	if maxPool != 3 || maxQueueA != 1 {
		t.Errorf("at most %d runs ran in the pool and %d in queue a; the burst should fill both limits (3 and 1)", maxPool, maxQueueA)
	}
	if err := invariant.Check(ctx, p.q); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

// step makes one move of a burst agent: claim and start what it was
// offered, confirm the cancels it was asked for, and end the runs it
// started in an earlier step (every seventh one fails). It reports whether
// anything happened.
func (a *burstAgent) step(t *testing.T, iter int) bool {
	t.Helper()
	moved := false
	var orders []*ferryv1.WorkOrder
	for len(a.orders) > 0 {
		orders = append(orders, <-a.orders)
	}
	if len(orders) > 0 {
		moved = true
		for i, r := range a.claim(t, orders...) {
			if !r.GetAccepted() {
				continue
			}
			l := lease(orders[i])
			if res := a.report(t, l, ferryv1.ReportKind_REPORT_KIND_STARTED, nil); res.GetAccepted() {
				a.held[l.GetRunId()] = heldRun{lease: l, since: iter}
			}
		}
	}
	for len(a.cancels) > 0 {
		c := <-a.cancels
		moved = true
		l := &ferryv1.RunLease{RunId: c.GetRunId(), Attempt: c.GetAttempt(), LeaseToken: c.GetLeaseToken()}
		a.report(t, l, ferryv1.ReportKind_REPORT_KIND_CANCELLED, nil)
		delete(a.held, c.GetRunId())
	}
	n := 0
	for id, h := range a.held {
		if h.since >= iter {
			continue
		}
		moved = true
		kind, code := ferryv1.ReportKind_REPORT_KIND_COMPLETED, int32(0)
		if n++; n%7 == 0 {
			kind, code = ferryv1.ReportKind_REPORT_KIND_FAILED, 1
		}
		a.report(t, h.lease, kind, exit(code))
		delete(a.held, id)
	}
	return moved
}

// burstCounts returns the runs claimed now in the pool and in queue "a",
// and the runs not yet ended.
func (p *plane) burstCounts(t *testing.T, ctx context.Context) (pool, queueA, open int) {
	t.Helper()
	err := p.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE r.state IN ('PENDING', 'RUNNING', 'CANCELLING')),
		count(*) FILTER (WHERE r.state IN ('PENDING', 'RUNNING', 'CANCELLING') AND q.name = 'a'),
		count(*) FILTER (WHERE r.state NOT IN ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'))
		FROM runs r JOIN work_queues q ON q.id = r.queue_id`).Scan(&pool, &queueA, &open)
	if err != nil {
		t.Fatalf("count runs: %v", err)
	}
	return pool, queueA, open
}

// TestExplainRun walks one run and its neighbours through each reason
// ExplainRun gives.
func TestExplainRun(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	lc := p.serveLimits(t)
	p.applyLimitedPool(t, 0)
	p.applyDeployment(t, "job", &ferryv1.DeploymentSpec{})
	first := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	second := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})

	rs := p.explain(t, second.GetId())
	if got, want := reasonCodes(rs), []ferryv1.WaitReasonCode{
		ferryv1.WaitReasonCode_WAIT_REASON_CODE_NO_AGENT, ferryv1.WaitReasonCode_WAIT_REASON_CODE_PRIORITY,
	}; !slices.Equal(got, want) {
		t.Errorf("second run: reasons %v, want %v", got, want)
	}
	if ahead := rs[len(rs)-1].GetRunsAhead(); ahead != 1 {
		t.Errorf("second run: %d runs ahead, want 1", ahead)
	}

	later := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job",
		ExpectedStartTime: timestamppb.New(p.clock.Now().Add(time.Hour))})
	nd := p.wantReason(t, later.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_NOT_DUE)
	if !nd.GetUntil().AsTime().Equal(later.GetExpectedStartTime().AsTime()) {
		t.Errorf("not due until %v, want the expected start %v", nd.GetUntil().AsTime(), later.GetExpectedStartTime().AsTime())
	}

	pauses := []struct {
		target *ferryv1.PauseTarget
		code   ferryv1.WaitReasonCode
	}{
		{&ferryv1.PauseTarget{Pool: "local"}, ferryv1.WaitReasonCode_WAIT_REASON_CODE_POOL_PAUSED},
		{&ferryv1.PauseTarget{Pool: "local", Queue: "default"}, ferryv1.WaitReasonCode_WAIT_REASON_CODE_QUEUE_PAUSED},
		{&ferryv1.PauseTarget{Deployment: "job"}, ferryv1.WaitReasonCode_WAIT_REASON_CODE_DEPLOYMENT_PAUSED},
	}
	for _, ps := range pauses {
		resp, err := lc.pause.Pause(callCtx(t), connect.NewRequest(&ferryv1.PauseRequest{Target: ps.target}))
		if err != nil {
			t.Fatalf("pause %v: %v", ps.target, err)
		}
		if !resp.Msg.GetChanged() {
			t.Errorf("pause %v: changed false, want true", ps.target)
		}
		p.wantReason(t, first.GetId(), ps.code)
		if _, err := lc.pause.Resume(callCtx(t), connect.NewRequest(&ferryv1.ResumeRequest{Target: ps.target})); err != nil {
			t.Fatalf("resume %v: %v", ps.target, err)
		}
	}

	// An agent with room for one run: the first run is offered, then
	// claimed, and the second waits for capacity, then for a draining agent.
	agent := p.connectAgent(t, p.agentToken(t), "explain-agent", 1)
	order := agent.orderFor(t, first.GetId())
	off := p.wantReason(t, first.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_OFFERED)
	if off.GetAgentId() != agent.welcome.GetAgentId() {
		t.Errorf("offered to %q, want agent %q", off.GetAgentId(), agent.welcome.GetAgentId())
	}
	agent.mustClaim(t, order)
	p.wantReason(t, first.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_ACTIVE)
	p.wantReason(t, second.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_AT_CAPACITY)
	if _, err := agent.client.Heartbeat(callCtx(t), connect.NewRequest(&ferryv1.HeartbeatRequest{
		SessionId: agent.session(), Live: []*ferryv1.RunLease{lease(order)}, Draining: true,
	})); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	p.wantReason(t, second.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_DRAINING)

	// A rejection is a policy denial; a completed run has ended.
	agent.mustReport(t, lease(order), ferryv1.ReportKind_REPORT_KIND_REJECTED, nil)
	denied := p.wantReason(t, first.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_POLICY_DENIED)
	if !strings.Contains(denied.GetMessage(), "reported by the e2e test") {
		t.Errorf("denial message %q lacks the agent's message", denied.GetMessage())
	}
	if _, err := lc.pause.Pause(callCtx(t), connect.NewRequest(&ferryv1.PauseRequest{
		Target: &ferryv1.PauseTarget{Deployment: "job", Pool: "local"},
	})); connectCode(err) != connect.CodeInvalidArgument {
		t.Errorf("pause naming a deployment and a pool: %v, want InvalidArgument", err)
	}
}

// connectCode returns err's Connect code, or Unknown.
func connectCode(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

// TestExplainNamesLimitHolders checks that a full named limit, selected by
// tag, is explained with the runs holding its slots, and that the limit
// listing shows them.
func TestExplainNamesLimitHolders(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	lc := p.serveLimits(t)
	p.applyLimitedPool(t, 0)
	p.applyDeployment(t, "train", &ferryv1.DeploymentSpec{})
	if _, err := lc.limits.ApplyConcurrencyLimit(callCtx(t), connect.NewRequest(&ferryv1.ApplyConcurrencyLimitRequest{
		Name: "gpu", Slots: 1, Tags: []string{"gpu"},
	})); err != nil {
		t.Fatalf("apply limit: %v", err)
	}
	agent := p.connectAgent(t, p.agentToken(t), "gpu-agent", 4)
	holder := p.startRun(t, &ferryv1.RunTemplate{Deployment: "train", Tags: []string{"gpu"}})
	agent.mustClaim(t, agent.orderFor(t, holder.GetId()))
	waiting := p.startRun(t, &ferryv1.RunTemplate{Deployment: "train", Tags: []string{"gpu", "big"}})
	free := p.startRun(t, &ferryv1.RunTemplate{Deployment: "train"})
	agent.orderFor(t, free.GetId())

	r := p.wantReason(t, waiting.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_CONCURRENCY_LIMIT)
	if r.GetLimit() != "limit/gpu" || !slices.Equal(r.GetHoldingRunIds(), []string{holder.GetId()}) {
		t.Errorf("limit %q held by %v, want limit/gpu held by [%s]", r.GetLimit(), r.GetHoldingRunIds(), holder.GetId())
	}
	list, err := lc.limits.ListConcurrencyLimits(callCtx(t), connect.NewRequest(&ferryv1.ListConcurrencyLimitsRequest{}))
	if err != nil {
		t.Fatalf("list limits: %v", err)
	}
	if ls := list.Msg.GetLimits(); len(ls) != 1 || !slices.Equal(ls[0].GetActiveRunIds(), []string{holder.GetId()}) {
		t.Errorf("limits %v, want gpu held by %s", ls, holder.GetId())
	}
	// Deleting the limit lets the waiting run go at once.
	if _, err := lc.limits.DeleteConcurrencyLimit(callCtx(t), connect.NewRequest(&ferryv1.DeleteConcurrencyLimitRequest{Name: "gpu"})); err != nil {
		t.Fatalf("delete limit: %v", err)
	}
	agent.orderFor(t, waiting.GetId())
}

// TestDeploymentCollisionStrategies starts a run of a deployment limited
// to one active run, then a second one, under each collision strategy.
func TestDeploymentCollisionStrategies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		strategy ferryv1.CollisionStrategy
		check    func(t *testing.T, p *plane, a *scriptedAgent, first *ferryv1.WorkOrder, second *ferryv1.Run)
	}{
		{ferryv1.CollisionStrategy_COLLISION_STRATEGY_ENQUEUE, func(t *testing.T, p *plane, a *scriptedAgent, first *ferryv1.WorkOrder, second *ferryv1.Run) {
			r := p.wantReason(t, second.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_CONCURRENCY_LIMIT)
			if r.GetLimit() != "deployment/job" || !slices.Equal(r.GetHoldingRunIds(), []string{first.GetRunId()}) {
				t.Errorf("limit %q held by %v, want deployment/job held by the first run", r.GetLimit(), r.GetHoldingRunIds())
			}
			a.mustReport(t, lease(first), ferryv1.ReportKind_REPORT_KIND_COMPLETED, exit(0))
			a.mustClaim(t, a.orderFor(t, second.GetId()))
		}},
		{ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_NEW, func(t *testing.T, p *plane, a *scriptedAgent, first *ferryv1.WorkOrder, second *ferryv1.Run) {
			p.waitState(t, second.GetId(), ferryv1.RunState_RUN_STATE_CANCELLED, "")
			h := p.history(t, second.GetId())
			if last := h[len(h)-1]; last.GetActor() != limits.ActorConcurrencyLimit {
				t.Errorf("cancelled by %q, want %q", last.GetActor(), limits.ActorConcurrencyLimit)
			}
			if r := p.getRun(t, first.GetRunId()); r.GetState() != ferryv1.RunState_RUN_STATE_RUNNING {
				t.Errorf("first run is %v, want it left RUNNING", r.GetState())
			}
		}},
		{ferryv1.CollisionStrategy_COLLISION_STRATEGY_CANCEL_OLDEST, func(t *testing.T, p *plane, a *scriptedAgent, first *ferryv1.WorkOrder, second *ferryv1.Run) {
			c := a.nextCancel(t)
			if c.GetRunId() != first.GetRunId() {
				t.Fatalf("cancel request for %s, want the first run %s", c.GetRunId(), first.GetRunId())
			}
			a.mustReport(t, lease(first), ferryv1.ReportKind_REPORT_KIND_CANCELLED, nil)
			a.mustClaim(t, a.orderFor(t, second.GetId()))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy.String(), func(t *testing.T) {
			t.Parallel()
			p := startPlane(t)
			p.applyLimitedPool(t, 0)
			p.applyDeployment(t, "job", &ferryv1.DeploymentSpec{ConcurrencyLimit: 1, CollisionStrategy: tt.strategy})
			a := p.connectAgent(t, p.agentToken(t), "agent", 4)
			run := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
			first := a.orderFor(t, run.GetId())
			a.mustClaim(t, first)
			a.mustReport(t, lease(first), ferryv1.ReportKind_REPORT_KIND_STARTED, nil)
			second := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
			tt.check(t, p, a, first, second)
		})
	}
}

// TestDrainingAgentTakesNoNewRuns checks that an agent whose heartbeat
// says it is draining is offered nothing, while it keeps its runs.
func TestDrainingAgentTakesNoNewRuns(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.applyLimitedPool(t, 0)
	p.applyDeployment(t, "job", &ferryv1.DeploymentSpec{})
	draining := p.connectAgent(t, p.agentToken(t), "draining", 4)
	held := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	order := draining.orderFor(t, held.GetId())
	draining.mustClaim(t, order)
	if _, err := draining.client.Heartbeat(callCtx(t), connect.NewRequest(&ferryv1.HeartbeatRequest{
		SessionId: draining.session(), Live: []*ferryv1.RunLease{lease(order)}, Draining: true,
	})); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}

	other := p.connectAgent(t, p.agentToken(t), "other", 1)
	first := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	other.mustClaim(t, other.orderFor(t, first.GetId()))
	second := p.startRun(t, &ferryv1.RunTemplate{Deployment: "job"})
	// Were the run offered to the draining agent, it would read OFFERED.
	p.wantReason(t, second.GetId(), ferryv1.WaitReasonCode_WAIT_REASON_CODE_AGENTS_AT_CAPACITY)
	if n := len(draining.orders); n != 0 {
		t.Errorf("the draining agent received %d work orders", n)
	}
	draining.mustReport(t, lease(order), ferryv1.ReportKind_REPORT_KIND_COMPLETED, exit(0))
}
