package e2e

import (
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Short names for the run states and report kinds the tests use most.
const (
	scheduled  = ferryv1.RunState_RUN_STATE_SCHEDULED
	pending    = ferryv1.RunState_RUN_STATE_PENDING
	running    = ferryv1.RunState_RUN_STATE_RUNNING
	completed  = ferryv1.RunState_RUN_STATE_COMPLETED
	failed     = ferryv1.RunState_RUN_STATE_FAILED
	crashed    = ferryv1.RunState_RUN_STATE_CRASHED
	cancelling = ferryv1.RunState_RUN_STATE_CANCELLING
	cancelled  = ferryv1.RunState_RUN_STATE_CANCELLED

	reportStarted   = ferryv1.ReportKind_REPORT_KIND_STARTED
	reportCompleted = ferryv1.ReportKind_REPORT_KIND_COMPLETED
	reportFailed    = ferryv1.ReportKind_REPORT_KIND_FAILED
	reportCancelled = ferryv1.ReportKind_REPORT_KIND_CANCELLED
)

// step is one history entry as the tests compare it.
type step struct {
	Attempt int32
	To      ferryv1.RunState
	Name    string
}

// steps reduces a history to what the tests compare.
func steps(changes []*ferryv1.RunStateChange) []step {
	out := make([]step, 0, len(changes))
	for _, c := range changes {
		out = append(out, step{c.GetAttempt(), c.GetToState(), c.GetToName()})
	}
	return out
}

// Common history prefixes.
var (
	stepCreated   = step{1, scheduled, "Scheduled"}
	stepClaimed   = step{1, pending, "Pending"}
	stepStarted   = step{1, running, "Running"}
	stepCompleted = step{1, completed, "Completed"}
)

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 4)
	r := p.createRun(t, "hello", "")
	if r.GetState() != scheduled || r.GetAttempt() != 1 {
		t.Fatalf("new run is %v attempt %d, want SCHEDULED attempt 1", r.GetState(), r.GetAttempt())
	}

	// The offer arrives on the stream without any polling by the agent.
	o := a.nextOrder(t)
	if o.GetRunId() != r.GetId() || o.GetAttempt() != 1 || o.GetLeaseToken() <= 0 {
		t.Fatalf("order = run %s attempt %d token %d, want run %s attempt 1 and a token",
			o.GetRunId(), o.GetAttempt(), o.GetLeaseToken(), r.GetId())
	}
	if diff := cmp.Diff([]string{"echo", "hello"}, o.GetJob().GetCommand()); diff != "" {
		t.Errorf("order command (-want +got):\n%s", diff)
	}
	if want := p.clock.Now().Add(planeOfferTTL); !o.GetOfferExpireTime().AsTime().Equal(want) {
		t.Errorf("offer expires at %v, want %v", o.GetOfferExpireTime().AsTime(), want)
	}

	a.mustClaim(t, o)
	if got := p.getRun(t, r.GetId()); got.GetState() != pending || got.GetAgentId() != a.welcome.GetAgentId() {
		t.Fatalf("claimed run is %v held by %q, want PENDING held by %s", got.GetState(), got.GetAgentId(), a.welcome.GetAgentId())
	}
	a.mustReport(t, lease(o), reportStarted, nil)
	if got := p.getRun(t, r.GetId()); got.GetState() != running || got.GetStartTime() == nil {
		t.Fatalf("started run is %v with start time %v, want RUNNING with a start time", got.GetState(), got.GetStartTime())
	}

	// A batch resent after a lost answer overlaps stored lines: each line
	// must still be stored once.
	for _, b := range []struct {
		first int64
		texts []string
	}{{1, []string{"one", "two"}}, {3, []string{"three"}}, {2, []string{"two", "three"}}, {4, []string{"four"}}} {
		if resp := a.sendLogs(t, lease(o), b.first, b.texts...); len(resp.GetRejected()) != 0 {
			t.Fatalf("log batch from %d rejected", b.first)
		}
	}
	a.mustReport(t, lease(o), reportCompleted, exit(0))

	got := p.getRun(t, r.GetId())
	if got.GetState() != completed || got.GetExitCode() != 0 || got.ExitCode == nil || got.GetEndTime() == nil {
		t.Errorf("finished run is %v exit %v end %v, want COMPLETED exit 0 with an end time",
			got.GetState(), got.ExitCode, got.GetEndTime())
	}
	want := []step{stepCreated, stepClaimed, stepStarted, stepCompleted}
	if diff := cmp.Diff(want, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	logs, err := p.runs.ListRunLogs(callCtx(t), connect.NewRequest(&ferryv1.ListRunLogsRequest{Id: r.GetId()}))
	if err != nil {
		t.Fatalf("list logs: %v", err)
	}
	var texts []string
	for _, l := range logs.Msg.GetLines() {
		texts = append(texts, l.GetText())
	}
	if diff := cmp.Diff([]string{"one", "two", "three", "four"}, texts); diff != "" {
		t.Errorf("stored log lines (-want +got):\n%s", diff)
	}
	if err := invariant.CheckLogs(callCtx(t), p.q, uuid.MustParse(r.GetId()), 1, []string{"one", "two", "three", "four"}); err != nil {
		t.Error(err)
	}
}

func TestOfferExpiresAndReportsAreFenced(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	first := a.nextOrder(t)

	// Nobody claims: once the offer expires the run is offered again, under
	// a new token.
	p.clock.Advance(planeOfferTTL + time.Second)
	second := a.orderFor(t, r.GetId())
	if second.GetLeaseToken() == first.GetLeaseToken() {
		t.Fatalf("the run was offered again under the same token %d", first.GetLeaseToken())
	}
	if res := a.claim(t, first)[0]; res.GetAccepted() || res.GetReason() == "" {
		t.Errorf("claim under the expired offer: accepted=%v reason=%q, want refused with a reason", res.GetAccepted(), res.GetReason())
	}
	a.mustClaim(t, second)

	// A report under the old token is refused and tells the sender to stop.
	if res := a.report(t, lease(first), reportStarted, nil); res.GetAccepted() || !res.GetStop() {
		t.Errorf("report under a stale token: accepted=%v stop=%v, want refused with stop", res.GetAccepted(), res.GetStop())
	}
	a.mustReport(t, lease(second), reportStarted, nil)
	if res := a.report(t, lease(second), reportStarted, nil); !res.GetAccepted() || !res.GetDuplicate() {
		t.Errorf("repeated started report: accepted=%v duplicate=%v, want an accepted duplicate", res.GetAccepted(), res.GetDuplicate())
	}
	a.mustReport(t, lease(second), reportCompleted, exit(0))
	if res := a.report(t, lease(second), reportCompleted, exit(0)); !res.GetAccepted() || !res.GetDuplicate() || res.GetStop() {
		t.Errorf("repeated final report: accepted=%v duplicate=%v stop=%v, want an accepted duplicate",
			res.GetAccepted(), res.GetDuplicate(), res.GetStop())
	}
	if res := a.report(t, lease(second), reportFailed, exit(1)); res.GetAccepted() || !res.GetStop() {
		t.Errorf("conflicting final report: accepted=%v stop=%v, want refused with stop", res.GetAccepted(), res.GetStop())
	}
	want := []step{stepCreated, {1, pending, "Pending"}, stepStarted, stepCompleted}
	if diff := cmp.Diff(want, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestCancelBeforeStart(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")

	// No agent: the run waits SCHEDULED, and a cancel ends it at once.
	r := p.createRun(t, "hello", "")
	resp, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r.GetId(), Reason: "not needed"}))
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got := resp.Msg.GetRun(); got.GetState() != cancelled || got.GetStateMessage() != "not needed" {
		t.Errorf("cancelled run is %v %q, want CANCELLED \"not needed\"", got.GetState(), got.GetStateMessage())
	}
	if diff := cmp.Diff([]step{stepCreated, {1, cancelled, "Cancelled"}}, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	_, err = p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r.GetId()}))
	if code, cerr := errCode(err); cerr != nil || code != connect.CodeFailedPrecondition {
		t.Errorf("second cancel: %v, want FailedPrecondition", err)
	}

	// An offered but unclaimed run is cancelled at once too, and the late
	// claim is refused.
	a := p.connectAgent(t, tok, "agent-1", 1)
	r2 := p.createRun(t, "hello", "")
	o := a.orderFor(t, r2.GetId())
	resp, err = p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r2.GetId()}))
	if err != nil {
		t.Fatalf("cancel offered run: %v", err)
	}
	if resp.Msg.GetRun().GetState() != cancelled {
		t.Errorf("cancelled offered run is %v, want CANCELLED", resp.Msg.GetRun().GetState())
	}
	if res := a.claim(t, o)[0]; res.GetAccepted() {
		t.Errorf("claim of a cancelled run was accepted")
	}
}

func TestCancelRunning(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)

	resp, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r.GetId(), Reason: "stop it"}))
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got := resp.Msg.GetRun().GetState(); got != cancelling {
		t.Fatalf("cancelled running run is %v, want CANCELLING until the agent confirms", got)
	}
	cr := a.nextCancel(t)
	if cr.GetRunId() != r.GetId() || cr.GetLeaseToken() != o.GetLeaseToken() || cr.GetAttempt() != 1 {
		t.Errorf("cancel request = run %s attempt %d token %d, want run %s attempt 1 token %d",
			cr.GetRunId(), cr.GetAttempt(), cr.GetLeaseToken(), r.GetId(), o.GetLeaseToken())
	}
	// The heartbeat repeats the request, for an agent that missed the stream message.
	hb := a.heartbeat(t, lease(o))
	if len(hb.GetCancel()) != 1 || hb.GetCancel()[0].GetRunId() != r.GetId() || len(hb.GetLost()) != 0 {
		t.Errorf("heartbeat cancel=%v lost=%v, want one cancel of run %s and nothing lost", hb.GetCancel(), hb.GetLost(), r.GetId())
	}
	// A report of progress while cancelling is answered with stop.
	if res := a.report(t, lease(o), reportStarted, nil); !res.GetStop() {
		t.Errorf("started report while cancelling: stop=%v, want stop", res.GetStop())
	}
	a.mustReport(t, lease(o), reportCancelled, nil)
	got := p.getRun(t, r.GetId())
	if got.GetState() != cancelled {
		t.Errorf("run is %v after the agent confirmed, want CANCELLED", got.GetState())
	}
	want := []step{stepCreated, stepClaimed, stepStarted, {1, cancelling, "Cancelling"}, {1, cancelled, "Cancelled"}}
	if diff := cmp.Diff(want, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestCancelReachesReconnectingAgent(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)

	// The agent's stream drops; the cancel is requested while it is away.
	a.stop()
	select {
	case <-a.ended:
	case <-time.After(waitTimeout):
		t.Fatal("the stream did not end")
	}
	if _, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: r.GetId()})); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	back := p.connectAgent(t, tok, "agent-1", 1)
	if cr := back.nextCancel(t); cr.GetRunId() != r.GetId() {
		t.Errorf("cancel request for run %s, want %s", cr.GetRunId(), r.GetId())
	}
	back.mustReport(t, lease(o), reportCancelled, nil)
	p.waitState(t, r.GetId(), cancelled, "")
}

func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	first := a.nextOrder(t)
	a.mustClaim(t, first)

	// No heartbeat: the PENDING run goes back to the queue.
	p.expireLeases(t, planeGrace+time.Second)
	got := p.getRun(t, r.GetId())
	if got.GetState() != scheduled || got.GetAttempt() != 1 {
		t.Fatalf("after the lease expired the PENDING run is %v attempt %d, want SCHEDULED attempt 1", got.GetState(), got.GetAttempt())
	}
	hb := a.heartbeat(t, lease(first))
	if len(hb.GetLost()) != 1 || hb.GetLost()[0].GetRunId() != r.GetId() {
		t.Errorf("heartbeat after expiry lost=%v, want run %s", hb.GetLost(), r.GetId())
	}

	second := a.orderFor(t, r.GetId())
	a.mustClaim(t, second)
	a.mustReport(t, lease(second), reportStarted, nil)

	// Heartbeats keep the lease past its first expiry time.
	p.expireLeases(t, planeLease*2/3)
	if hb := a.heartbeat(t, lease(second)); len(hb.GetLost()) != 0 {
		t.Fatalf("heartbeat of a live lease lost %v", hb.GetLost())
	}
	p.expireLeases(t, planeLease*2/3)
	if got := p.getRun(t, r.GetId()); got.GetState() != running {
		t.Fatalf("run with a renewed lease is %v, want RUNNING", got.GetState())
	}

	// Then the heartbeats stop: the RUNNING run crashes.
	p.expireLeases(t, planeLease+time.Second)
	got = p.getRun(t, r.GetId())
	if got.GetState() != crashed {
		t.Fatalf("after the lease expired the RUNNING run is %v, want CRASHED", got.GetState())
	}
	if res := a.report(t, lease(second), reportCompleted, exit(0)); res.GetAccepted() || !res.GetStop() {
		t.Errorf("report after the crash: accepted=%v stop=%v, want refused with stop", res.GetAccepted(), res.GetStop())
	}
	want := []step{stepCreated, stepClaimed, {1, scheduled, "Scheduled"}, stepClaimed, stepStarted, {1, crashed, "Crashed"}}
	changes := p.history(t, r.GetId())
	if diff := cmp.Diff(want, steps(changes)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	for _, i := range []int{2, 5} {
		if i < len(changes) && changes[i].GetActor() != "system:lease-reaper" {
			t.Errorf("history entry %d by %q, want the lease reaper", i, changes[i].GetActor())
		}
	}
}

func TestAutomaticRetries(t *testing.T) {
	t.Parallel()
	const delay = 10 * time.Second
	p := startPlane(t)
	tok := p.setupDeployment(t, "flaky", withRetries(2, delay))
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "flaky", "")
	if r.GetMaxAttempts() != 3 {
		t.Fatalf("max attempts %d, want 3", r.GetMaxAttempts())
	}

	for attempt := int32(1); attempt <= 3; attempt++ {
		o := a.orderFor(t, r.GetId())
		if o.GetAttempt() != attempt {
			t.Fatalf("order for attempt %d, want %d", o.GetAttempt(), attempt)
		}
		a.mustClaim(t, o)
		a.mustReport(t, lease(o), reportStarted, nil)
		failedAt := p.clock.Now()
		a.mustReport(t, lease(o), reportFailed, exit(3))
		got := p.getRun(t, r.GetId())
		if attempt == 3 {
			if got.GetState() != failed || got.GetStateName() != "Failed" || got.GetAttempt() != 3 || got.GetExitCode() != 3 {
				t.Fatalf("after the last attempt the run is %v (%s) attempt %d exit %d, want FAILED (Failed) attempt 3 exit 3",
					got.GetState(), got.GetStateName(), got.GetAttempt(), got.GetExitCode())
			}
			break
		}
		if got.GetState() != scheduled || got.GetStateName() != "AwaitingRetry" || got.GetAttempt() != attempt+1 {
			t.Fatalf("after failed attempt %d the run is %v (%s) attempt %d, want SCHEDULED (AwaitingRetry) attempt %d",
				attempt, got.GetState(), got.GetStateName(), got.GetAttempt(), attempt+1)
		}
		// The delay doubles each attempt and is jittered by ±20%.
		base := delay << (attempt - 1)
		wait := got.GetExpectedStartTime().AsTime().Sub(failedAt)
		if wait < base*4/5 || wait > base*6/5 {
			t.Fatalf("retry %d expected %v after the failure, want %v ±20%%", attempt, wait, base)
		}
		p.clock.Set(got.GetExpectedStartTime().AsTime())
	}

	var want []step
	for attempt := int32(1); attempt <= 3; attempt++ {
		if attempt > 1 {
			want = append(want, step{attempt, scheduled, "AwaitingRetry"})
		} else {
			want = append(want, stepCreated)
		}
		want = append(want, step{attempt, pending, "Pending"}, step{attempt, running, "Running"}, step{attempt, failed, "Failed"})
	}
	if diff := cmp.Diff(want, steps(p.history(t, r.GetId()))); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestForeignWorkspaceSeesNothing(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.sendLogs(t, lease(o), 1, "secret output")
	foreign := p.foreignWorkspace(t)
	before := len(p.history(t, r.GetId()))

	ctx := callCtx(t)
	id := r.GetId()
	calls := map[string]func() error{
		"GetRun": func() error {
			_, err := foreign.runs.GetRun(ctx, connect.NewRequest(&ferryv1.GetRunRequest{Id: id}))
			return err
		},
		"CancelRun": func() error {
			_, err := foreign.runs.CancelRun(ctx, connect.NewRequest(&ferryv1.CancelRunRequest{Id: id}))
			return err
		},
		"RetryRun": func() error {
			_, err := foreign.runs.RetryRun(ctx, connect.NewRequest(&ferryv1.RetryRunRequest{Id: id}))
			return err
		},
		"ListRunLogs": func() error {
			_, err := foreign.runs.ListRunLogs(ctx, connect.NewRequest(&ferryv1.ListRunLogsRequest{Id: id}))
			return err
		},
		"ListRunStateChanges": func() error {
			_, err := foreign.runs.ListRunStateChanges(ctx, connect.NewRequest(&ferryv1.ListRunStateChangesRequest{Id: id}))
			return err
		},
		"WatchRun": func() error {
			stream, err := foreign.runs.WatchRun(ctx, connect.NewRequest(&ferryv1.WatchRunRequest{Id: id}))
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
				return fmt.Errorf("watch sent %v", stream.Msg().GetRun())
			}
			return stream.Err()
		},
		"FollowRunLogs": func() error {
			stream, err := foreign.runs.FollowRunLogs(ctx, connect.NewRequest(&ferryv1.FollowRunLogsRequest{Id: id}))
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
				return fmt.Errorf("follow sent %v", stream.Msg().GetLines())
			}
			return stream.Err()
		},
		"CreateRun of the other workspace's deployment": func() error {
			_, err := foreign.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "hello"}}))
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if code, cerr := errCode(err); cerr != nil || code != connect.CodeNotFound {
			t.Errorf("%s from another workspace: %v, want NotFound", name, err)
		}
	}
	list, err := foreign.runs.ListRuns(ctx, connect.NewRequest(&ferryv1.ListRunsRequest{}))
	if err != nil || len(list.Msg.GetRuns()) != 0 {
		t.Errorf("ListRuns from another workspace: %d runs, err %v; want none", len(list.Msg.GetRuns()), err)
	}
	if got := p.getRun(t, id); got.GetState() != running {
		t.Errorf("run is %v after the foreign calls, want RUNNING", got.GetState())
	}
	if after := len(p.history(t, id)); after != before {
		t.Errorf("history grew from %d to %d entries through foreign calls", before, after)
	}
	if n := p.runCount(t); n != 1 {
		t.Errorf("%d runs stored, want 1", n)
	}
}
