package e2e

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// TestOtherAgentCannotReportOnALease checks that a lease belongs to the
// agent that claimed it: another agent of the same pool that learns the
// token (tokens are sequential) cannot finish, start or log for the run.
func TestOtherAgentCannotReportOnALease(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	owner := p.connectAgent(t, tok, "owner", 1)
	r := p.createRun(t, "hello", "")
	o := owner.nextOrder(t)
	owner.mustClaim(t, o)
	owner.mustReport(t, lease(o), reportStarted, nil)

	intruder := p.connectAgent(t, tok, "intruder", 1)
	if resp := intruder.sendLogs(t, lease(o), 1, "forged"); len(resp.GetRejected()) != 1 {
		t.Errorf("another agent's log batch on the lease was not rejected")
	}
	if res := intruder.report(t, lease(o), reportCompleted, exit(0)); res.GetAccepted() || !res.GetStop() {
		t.Errorf("another agent's completed report on the lease: accepted=%v stop=%v, want refused with stop",
			res.GetAccepted(), res.GetStop())
	}
	if hb := intruder.heartbeat(t, lease(o)); len(hb.GetLost()) != 1 {
		t.Errorf("another agent's heartbeat renewed the lease: lost=%v", hb.GetLost())
	}
	if got := p.getRun(t, r.GetId()); got.GetState() != running {
		t.Fatalf("run is %v after the other agent's calls, want RUNNING", got.GetState())
	}
	owner.mustReport(t, lease(o), reportCompleted, exit(0))
	if err := invariant.CheckLogs(callCtx(t), p.q, uuid.MustParse(r.GetId()), 1, nil); err != nil {
		t.Error(err)
	}
}

// TestOtherPoolCannotTouchRuns checks that an agent token of one pool
// reaches no run of another pool.
func TestOtherPoolCannotTouchRuns(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	ctx := callCtx(t)
	if _, err := p.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "elsewhere", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		t.Fatalf("apply pool: %v", err)
	}
	other, err := p.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "elsewhere", Name: "x"}))
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	owner := p.connectAgent(t, tok, "owner", 1)
	r := p.createRun(t, "hello", "")
	o := owner.nextOrder(t)
	outsider := p.connectAgent(t, other.Msg.GetSecret(), "outsider", 1)
	if res := outsider.claim(t, o)[0]; res.GetAccepted() {
		t.Errorf("an agent of another pool claimed the run")
	}
	owner.mustClaim(t, o)
	if res := outsider.report(t, lease(o), reportFailed, exit(1)); res.GetAccepted() {
		t.Errorf("an agent of another pool reported on the run")
	}
	if resp := outsider.sendLogs(t, lease(o), 1, "forged"); len(resp.GetRejected()) != 1 {
		t.Errorf("an agent of another pool stored log lines for the run")
	}
	// A session id of another pool's agent is refused outright.
	_, err = outsider.client.ClaimRuns(ctx, connect.NewRequest(&ferryv1.ClaimRunsRequest{
		SessionId: owner.session(), Claims: []*ferryv1.RunLease{lease(o)},
	}))
	if code, cerr := errCode(err); cerr != nil || code != connect.CodeFailedPrecondition {
		t.Errorf("claim with another pool's session: %v, want FailedPrecondition", err)
	}
	if got := p.getRun(t, r.GetId()); got.GetState() != pending {
		t.Errorf("run is %v, want PENDING", got.GetState())
	}
	owner.mustReport(t, lease(o), reportStarted, nil)
	owner.mustReport(t, lease(o), reportCompleted, exit(0))
	if err := invariant.CheckLogs(callCtx(t), p.q, uuid.MustParse(r.GetId()), 1, nil); err != nil {
		t.Error(err)
	}
}

// TestLogBatchAttemptMustMatchLease checks that a batch is stored under the
// attempt its lease belongs to: an agent cannot write lines into another
// attempt's log with a lease it holds.
func TestLogBatchAttemptMustMatchLease(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "flaky", withRetries(1, time.Second))
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "flaky", "")
	first := a.nextOrder(t)
	a.mustClaim(t, first)
	a.mustReport(t, lease(first), reportStarted, nil)
	a.sendLogs(t, lease(first), 1, "attempt 1")
	a.mustReport(t, lease(first), reportFailed, exit(1))
	p.clock.Advance(2 * time.Second)
	second := a.orderFor(t, r.GetId())
	a.mustClaim(t, second)
	a.mustReport(t, lease(second), reportStarted, nil)

	// The first attempt's ended lease, labelled as attempt 2.
	wrong := lease(first)
	wrong.Attempt = 2
	if resp := a.sendLogs(t, wrong, 1, "forged into attempt 2"); len(resp.GetRejected()) != 1 {
		t.Errorf("a batch under attempt 1's lease labelled attempt 2 was not rejected")
	}
	// The live lease of attempt 2, labelled as attempt 1.
	wrong = lease(second)
	wrong.Attempt = 1
	if resp := a.sendLogs(t, wrong, 2, "forged into attempt 1"); len(resp.GetRejected()) != 1 {
		t.Errorf("a batch under attempt 2's lease labelled attempt 1 was not rejected")
	}
	a.sendLogs(t, lease(second), 1, "attempt 2")
	a.mustReport(t, lease(second), reportCompleted, exit(0))

	id := uuid.MustParse(r.GetId())
	for attempt, want := range map[int32][]string{1: {"attempt 1"}, 2: {"attempt 2"}} {
		if err := invariant.CheckLogs(callCtx(t), p.q, id, attempt, want); err != nil {
			t.Error(err)
		}
	}
}

func TestCancellingRunEndsOnLeaseExpiry(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello", withRetries(3, time.Second))
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	if _, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r.GetId()})); err != nil {
		t.Fatalf("cancel: %v", err)
	}

	// The agent never confirms: once its lease expires the run is
	// CANCELLED, and a cancelled run is not retried.
	p.expireLeases(t, planeGrace+time.Second)
	got := p.getRun(t, r.GetId())
	if got.GetState() != cancelled || got.GetAttempt() != 1 {
		t.Errorf("run is %v attempt %d, want CANCELLED attempt 1", got.GetState(), got.GetAttempt())
	}
	want := []step{stepCreated, stepClaimed, stepStarted, {1, cancelling, "Cancelling"}, {1, cancelled, "Cancelled"}}
	if diff := cmp.Diff(want, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestManualRetry(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	p.expireLeases(t, planeGrace+time.Second)
	if got := p.getRun(t, r.GetId()); got.GetState() != crashed {
		t.Fatalf("run is %v, want CRASHED", got.GetState())
	}

	retry := func() (*ferryv1.Run, error) {
		resp, err := p.runs.RetryRun(callCtx(t), connect.NewRequest(&ferryv1.RetryRunRequest{Id: r.GetId()}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetRun(), nil
	}
	got, err := retry()
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got.GetState() != scheduled || got.GetAttempt() != 2 || got.GetMaxAttempts() < 2 {
		t.Errorf("retried run is %v attempt %d of %d, want SCHEDULED attempt 2 of at least 2",
			got.GetState(), got.GetAttempt(), got.GetMaxAttempts())
	}
	if _, err := retry(); err == nil {
		t.Errorf("retry of a SCHEDULED run succeeded")
	} else if code, cerr := errCode(err); cerr != nil || code != connect.CodeFailedPrecondition {
		t.Errorf("retry of a SCHEDULED run: %v, want FailedPrecondition", err)
	}

	second := a.orderFor(t, r.GetId())
	if second.GetAttempt() != 2 {
		t.Fatalf("order for attempt %d, want 2", second.GetAttempt())
	}
	a.mustClaim(t, second)
	a.mustReport(t, lease(second), reportStarted, nil)
	a.mustReport(t, lease(second), reportCompleted, exit(0))
	if _, err := retry(); err == nil {
		t.Errorf("retry of a COMPLETED run succeeded")
	} else if code, cerr := errCode(err); cerr != nil || code != connect.CodeFailedPrecondition {
		t.Errorf("retry of a COMPLETED run: %v, want FailedPrecondition", err)
	}
	// A report about the first attempt's lease is still refused.
	if res := a.report(t, lease(o), reportCompleted, exit(0)); res.GetAccepted() {
		t.Errorf("a report under the crashed attempt's lease was accepted")
	}
}

func TestHeartbeatOfUnknownSessionAsksToResubscribe(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	stale := *a
	stale.welcome = &ferryv1.Welcome{SessionId: uuid.NewString()}
	if hb := stale.heartbeat(t); !hb.GetResubscribe() {
		t.Errorf("heartbeat of an unknown session: resubscribe=false")
	}

	// A newer session of the same agent replaces the stream of the old one.
	newer := p.connectAgent(t, tok, "agent-1", 1)
	select {
	case err := <-a.ended:
		if code, cerr := errCode(err); cerr != nil || code != connect.CodeAborted {
			t.Errorf("replaced stream ended with %v, want Aborted", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the replaced stream did not end")
	}
	if hb := a.heartbeat(t); !hb.GetResubscribe() {
		t.Errorf("heartbeat of the replaced session: resubscribe=false")
	}
	if hb := newer.heartbeat(t); hb.GetResubscribe() {
		t.Errorf("heartbeat of the live session: resubscribe=true")
	}
}
