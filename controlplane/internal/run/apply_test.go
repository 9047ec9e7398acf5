package run_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/controlplane/internal/run"
)

const (
	agent    = "agent-1"
	token    = int64(7)
	stale    = int64(99)
	user     = "user:ann"
	attempts = 3
)

var now = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// variant is one event of the exhaustive table, named for the table key. Every
// event carries the base snapshot's current token and agent.
type variant struct {
	name string
	ev   run.Event
}

func variants(tok int64) []variant {
	return []variant{
		{"claim", run.Claim{AgentID: agent, Token: tok}},
		{"started", run.Started{Token: tok}},
		{"completed", run.Completed{Token: tok, ExitCode: 0}},
		{"failed", run.Failed{Token: tok, ExitCode: ptr[int32](1), Message: "exit status 1", Kind: run.FailureFailed}},
		{"timed_out", run.Failed{Token: tok, Message: "deadline reached", Kind: run.FailureTimedOut}},
		{"rejected", run.Failed{Token: tok, Message: "policy denied", Kind: run.FailureRejected}},
		{"crashed", run.Crashed{Token: tok, Message: "container engine died"}},
		{"cancelled", run.Cancelled{Token: tok, Message: "stopped"}},
		{"cancel_requested", run.CancelRequested{Actor: user, Reason: "not needed"}},
		{"lease_expired", run.LeaseExpired{Token: tok}},
		{"retry", run.Retry{Actor: user}},
	}
}

// base returns the canonical snapshot of a run in state s: live states hold an
// offer or lease (token, agent) on attempt 1 of 3; terminal states ended under
// that token on attempt 3 of 3.
func base(s run.State) run.Snapshot {
	snap := run.Snapshot{
		State: s, StateName: run.DefaultName(s),
		Attempt: 1, MaxAttempts: attempts,
		LeaseToken: token, AgentID: agent,
		RetryDelay: 10 * time.Second, RetryOn: run.DefaultRetryOn,
	}
	if run.IsTerminal(s) {
		snap.Attempt = attempts
		snap.LeaseToken, snap.AgentID = 0, ""
		snap.Ended = run.Ended{Token: token, State: s, Name: snap.StateName}
	}
	return snap
}

// outcome is what one (state, event) pair must do. path lists "STATE/Name" of
// each transition's target in order; next is the resulting "STATE/Name".
type outcome struct {
	err  error
	dup  bool
	path []string
	next string
}

func fails(err error) outcome { return outcome{err: err} }
func dup() outcome            { return outcome{dup: true} }
func stays(next string) outcome {
	return outcome{next: next}
}
func moves(path ...string) outcome {
	return outcome{path: path, next: path[len(path)-1]}
}

const awaitingRetry = "SCHEDULED/AwaitingRetry"

var expected = map[run.State]map[string]outcome{
	run.StateScheduled: {
		"claim":            moves("PENDING/Pending"),
		"started":          fails(run.ErrInvalidTransition),
		"completed":        fails(run.ErrInvalidTransition),
		"failed":           fails(run.ErrInvalidTransition),
		"timed_out":        fails(run.ErrInvalidTransition),
		"rejected":         fails(run.ErrInvalidTransition),
		"crashed":          fails(run.ErrInvalidTransition),
		"cancelled":        fails(run.ErrInvalidTransition),
		"cancel_requested": moves("CANCELLED/Cancelled"),
		"lease_expired":    stays("SCHEDULED/Scheduled"),
		"retry":            fails(run.ErrNotTerminal),
	},
	run.StatePending: {
		"claim":            dup(),
		"started":          moves("RUNNING/Running"),
		"completed":        moves("COMPLETED/Completed"),
		"failed":           moves("FAILED/Failed", awaitingRetry),
		"timed_out":        moves("FAILED/TimedOut", awaitingRetry),
		"rejected":         moves("FAILED/Rejected"),
		"crashed":          moves("CRASHED/Crashed", awaitingRetry),
		"cancelled":        moves("CANCELLED/Cancelled"),
		"cancel_requested": moves("CANCELLING/Cancelling"),
		"lease_expired":    moves("SCHEDULED/Scheduled"),
		"retry":            fails(run.ErrNotTerminal),
	},
	run.StateRunning: {
		"claim":            fails(run.ErrInvalidTransition),
		"started":          dup(),
		"completed":        moves("COMPLETED/Completed"),
		"failed":           moves("FAILED/Failed", awaitingRetry),
		"timed_out":        moves("FAILED/TimedOut", awaitingRetry),
		"rejected":         moves("FAILED/Rejected"),
		"crashed":          moves("CRASHED/Crashed", awaitingRetry),
		"cancelled":        moves("CANCELLED/Cancelled"),
		"cancel_requested": moves("CANCELLING/Cancelling"),
		"lease_expired":    moves("CRASHED/Crashed", awaitingRetry),
		"retry":            fails(run.ErrNotTerminal),
	},
	run.StateCancelling: {
		"claim":            fails(run.ErrInvalidTransition),
		"started":          stays("CANCELLING/Cancelling"),
		"completed":        moves("COMPLETED/Completed"),
		"failed":           moves("FAILED/Failed"),
		"timed_out":        moves("FAILED/TimedOut"),
		"rejected":         moves("FAILED/Rejected"),
		"crashed":          moves("CRASHED/Crashed"),
		"cancelled":        moves("CANCELLED/Cancelled"),
		"cancel_requested": dup(),
		"lease_expired":    moves("CANCELLED/Cancelled"),
		"retry":            fails(run.ErrNotTerminal),
	},
	run.StateCompleted: {
		"claim":            fails(run.ErrTerminal),
		"started":          fails(run.ErrTerminal),
		"completed":        dup(),
		"failed":           fails(run.ErrTerminal),
		"timed_out":        fails(run.ErrTerminal),
		"rejected":         fails(run.ErrTerminal),
		"crashed":          fails(run.ErrTerminal),
		"cancelled":        fails(run.ErrTerminal),
		"cancel_requested": fails(run.ErrTerminal),
		"lease_expired":    fails(run.ErrStaleToken),
		"retry":            fails(run.ErrNotRetryable),
	},
	run.StateFailed: {
		"claim":            fails(run.ErrTerminal),
		"started":          fails(run.ErrTerminal),
		"completed":        fails(run.ErrTerminal),
		"failed":           dup(),
		"timed_out":        fails(run.ErrTerminal),
		"rejected":         fails(run.ErrTerminal),
		"crashed":          fails(run.ErrTerminal),
		"cancelled":        fails(run.ErrTerminal),
		"cancel_requested": fails(run.ErrTerminal),
		"lease_expired":    fails(run.ErrStaleToken),
		"retry":            moves("SCHEDULED/Scheduled"),
	},
	run.StateCrashed: {
		"claim":            fails(run.ErrTerminal),
		"started":          fails(run.ErrTerminal),
		"completed":        fails(run.ErrTerminal),
		"failed":           fails(run.ErrTerminal),
		"timed_out":        fails(run.ErrTerminal),
		"rejected":         fails(run.ErrTerminal),
		"crashed":          dup(),
		"cancelled":        fails(run.ErrTerminal),
		"cancel_requested": fails(run.ErrTerminal),
		"lease_expired":    fails(run.ErrStaleToken),
		"retry":            moves("SCHEDULED/Scheduled"),
	},
	run.StateCancelled: {
		"claim":            fails(run.ErrTerminal),
		"started":          fails(run.ErrTerminal),
		"completed":        fails(run.ErrTerminal),
		"failed":           fails(run.ErrTerminal),
		"timed_out":        fails(run.ErrTerminal),
		"rejected":         fails(run.ErrTerminal),
		"crashed":          fails(run.ErrTerminal),
		"cancelled":        dup(),
		"cancel_requested": fails(run.ErrTerminal),
		"lease_expired":    fails(run.ErrStaleToken),
		"retry":            moves("SCHEDULED/Scheduled"),
	},
}

// TestApplyEveryStateAndEvent runs every event variant against every state and
// compares with the expected table, which must list every pair and no other.
func TestApplyEveryStateAndEvent(t *testing.T) {
	t.Parallel()
	vs := variants(token)

	// Every event kind must be exercised by at least one variant.
	var kinds []run.EventKind
	for _, v := range vs {
		kinds = append(kinds, v.ev.EventKind())
	}
	for _, k := range run.AllEventKinds() {
		if !slices.Contains(kinds, k) {
			t.Errorf("no variant of event kind %s", k)
		}
	}
	for s, row := range expected {
		if !slices.Contains(run.AllStates(), s) {
			t.Errorf("expected table has unknown state %s", s)
		}
		for name := range row {
			if !slices.ContainsFunc(vs, func(v variant) bool { return v.name == name }) {
				t.Errorf("expected table has unknown event %s/%s", s, name)
			}
		}
	}

	for _, s := range run.AllStates() {
		for _, v := range vs {
			t.Run(string(s)+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				want, ok := expected[s][v.name]
				if !ok {
					t.Fatalf("expected table has no entry for (%s, %s)", s, v.name)
				}
				snap := base(s)
				res, err := run.Apply(snap, v.ev, now, lowest)
				checkOutcome(t, snap, res, err, want)
			})
		}
	}
}

func checkOutcome(t *testing.T, snap run.Snapshot, res run.Result, err error, want outcome) {
	t.Helper()
	if want.err != nil {
		if !errors.Is(err, want.err) {
			t.Fatalf("error = %v, want %v", err, want.err)
		}
		if diff := cmp.Diff(run.Result{}, res); diff != "" {
			t.Errorf("result on error is not zero (-want +got):\n%s", diff)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	checkInvariants(t, snap, res, now)
	if res.Duplicate != want.dup {
		t.Errorf("Duplicate = %v, want %v", res.Duplicate, want.dup)
	}
	if want.dup {
		return
	}
	var path []string
	for _, tr := range res.Transitions {
		path = append(path, fmt.Sprintf("%s/%s", tr.To, tr.ToName))
	}
	if diff := cmp.Diff(want.path, path); diff != "" {
		t.Errorf("transition path (-want +got):\n%s", diff)
	}
	if got := fmt.Sprintf("%s/%s", res.Next.State, res.Next.StateName); got != want.next {
		t.Errorf("next = %s, want %s", got, want.next)
	}
}

// checkInvariants asserts what must hold for every successful Apply.
func checkInvariants(t *testing.T, snap run.Snapshot, res run.Result, at time.Time) {
	t.Helper()
	if res.Duplicate {
		if len(res.Transitions) != 0 {
			t.Errorf("duplicate with transitions %v", res.Transitions)
		}
		if diff := cmp.Diff(snap, res.Next); diff != "" {
			t.Errorf("duplicate changed the row (-before +after):\n%s", diff)
		}
	}
	if run.IsTerminal(snap.State) && len(res.Transitions) > 0 && res.Transitions[0].To != run.StateScheduled {
		t.Errorf("terminal run left %s for %s", snap.State, res.Transitions[0].To)
	}
	from, fromName := snap.State, snap.StateName
	for i, tr := range res.Transitions {
		if tr.From != from {
			t.Errorf("transition %d starts at %s, want %s", i, tr.From, from)
		}
		if !run.Legal(tr.From, tr.To) {
			t.Errorf("transition %d %s -> %s is not Legal", i, tr.From, tr.To)
		}
		if !run.ValidName(tr.To, tr.ToName) {
			t.Errorf("transition %d to %s has invalid name %q", i, tr.To, tr.ToName)
		}
		if tr.Actor == "" {
			t.Errorf("transition %d has no actor", i)
		}
		from, fromName = tr.To, tr.ToName
	}
	if res.Next.State != from || res.Next.StateName != fromName {
		t.Errorf("Next is %s/%s, want %s/%s from the transitions",
			res.Next.State, res.Next.StateName, from, fromName)
	}
	if res.Terminal != run.IsTerminal(res.Next.State) {
		t.Errorf("Terminal = %v for next state %s", res.Terminal, res.Next.State)
	}
	if run.IsTerminal(res.Next.State) && (res.Next.LeaseToken != 0 || res.Next.AgentID != "") {
		t.Errorf("terminal row keeps lease %d held by %q", res.Next.LeaseToken, res.Next.AgentID)
	}
	hadLease := snap.LeaseToken != 0 || snap.AgentID != ""
	hasLease := res.Next.LeaseToken != 0 || res.Next.AgentID != ""
	if res.ClearLease != (hadLease && !hasLease) && !res.Duplicate {
		t.Errorf("ClearLease = %v, lease token %d -> %d", res.ClearLease, snap.LeaseToken, res.Next.LeaseToken)
	}
	if d := res.Next.Attempt - snap.Attempt; d != 0 && d != 1 {
		t.Errorf("attempt moved from %d to %d", snap.Attempt, res.Next.Attempt)
	}
	if res.Next.Attempt > res.Next.MaxAttempts {
		t.Errorf("attempt %d above max %d", res.Next.Attempt, res.Next.MaxAttempts)
	}
	retried := len(res.Transitions) > 0 && res.Transitions[len(res.Transitions)-1].ToName == run.NameAwaitingRetry
	if retried != !res.NotBefore.IsZero() {
		t.Errorf("NotBefore = %v with transitions %v", res.NotBefore, res.Transitions)
	}
	if retried && (res.NotBefore.Before(at) || res.NotBefore.After(at.Add(run.MaxBackoff))) {
		t.Errorf("NotBefore %v is outside [now, now+MaxBackoff]", res.NotBefore)
	}
}

// TestApplyTransitionDetails checks the fields of the transitions and of Next
// for the main paths.
func TestApplyTransitionDetails(t *testing.T) {
	t.Parallel()
	ended := func(s run.State, name string) run.Ended {
		return run.Ended{Token: token, State: s, Name: name}
	}
	tests := []struct {
		name  string
		state run.State
		ev    run.Event
		want  run.Result
	}{
		{
			name: "claim", state: run.StateScheduled, ev: run.Claim{AgentID: agent, Token: token},
			want: run.Result{
				Transitions: []run.Transition{{From: "SCHEDULED", To: "PENDING", ToName: "Pending",
					Attempt: 1, Actor: "agent:agent-1", LeaseToken: token}},
				Next: with(base(run.StateScheduled), func(s *run.Snapshot) {
					s.State, s.StateName = run.StatePending, run.NamePending
				}),
			},
		},
		{
			name: "completed", state: run.StateRunning, ev: run.Completed{Token: token, ExitCode: 0},
			want: run.Result{
				Transitions: []run.Transition{{From: "RUNNING", To: "COMPLETED", ToName: "Completed",
					Attempt: 1, Actor: "agent:agent-1", LeaseToken: token}},
				Next: with(base(run.StateRunning), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateCompleted, run.NameCompleted
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateCompleted, run.NameCompleted)
				}),
				ClearLease: true, Terminal: true, ExitCode: ptr[int32](0),
			},
		},
		{
			name: "failure retried with backoff", state: run.StateRunning,
			ev: run.Failed{Token: token, ExitCode: ptr[int32](2), Message: "boom", Kind: run.FailureFailed},
			want: run.Result{
				Transitions: []run.Transition{
					{From: "RUNNING", To: "FAILED", ToName: "Failed", Attempt: 1, Message: "boom",
						Actor: "agent:agent-1", LeaseToken: token},
					{From: "FAILED", To: "SCHEDULED", ToName: "AwaitingRetry", Attempt: 2,
						Message: "automatic retry: attempt 2 of 3", Actor: run.ActorRetryPolicy},
				},
				Next: with(base(run.StateRunning), func(s *run.Snapshot) {
					s.State, s.StateName, s.Attempt = run.StateScheduled, run.NameAwaitingRetry, 2
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateFailed, run.NameFailed)
				}),
				// lowest jitter: 10s - 20%.
				NotBefore:  now.Add(8 * time.Second),
				ClearLease: true, ExitCode: ptr[int32](2),
			},
		},
		{
			name: "rejection never retried", state: run.StatePending,
			ev: run.Failed{Token: token, Message: "denied", Kind: run.FailureRejected},
			want: run.Result{
				Transitions: []run.Transition{{From: "PENDING", To: "FAILED", ToName: "Rejected",
					Attempt: 1, Message: "denied", Actor: "agent:agent-1", LeaseToken: token}},
				Next: with(base(run.StatePending), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateFailed, run.NameRejected
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateFailed, run.NameRejected)
				}),
				ClearLease: true, Terminal: true,
			},
		},
		{
			name: "cancel before claim withdraws the offer", state: run.StateScheduled,
			ev: run.CancelRequested{Actor: user, Reason: "not needed"},
			want: run.Result{
				Transitions: []run.Transition{{From: "SCHEDULED", To: "CANCELLED", ToName: "Cancelled",
					Attempt: 1, Message: "not needed", Actor: user}},
				Next: with(base(run.StateScheduled), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateCancelled, run.NameCancelled
					s.LeaseToken, s.AgentID = 0, ""
				}),
				ClearLease: true, Terminal: true,
			},
		},
		{
			name: "cancel while running keeps the lease", state: run.StateRunning,
			ev: run.CancelRequested{Actor: user, Reason: "stop"},
			want: run.Result{
				Transitions: []run.Transition{{From: "RUNNING", To: "CANCELLING", ToName: "Cancelling",
					Attempt: 1, Message: "stop", Actor: user, LeaseToken: token}},
				Next: with(base(run.StateRunning), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateCancelling, run.NameCancelling
				}),
			},
		},
		{
			name: "expired offer is withdrawn without a transition", state: run.StateScheduled,
			ev: run.LeaseExpired{Token: token},
			want: run.Result{
				Next: with(base(run.StateScheduled), func(s *run.Snapshot) {
					s.LeaseToken, s.AgentID = 0, ""
				}),
				ClearLease: true,
			},
		},
		{
			name: "expired claim goes back to the queue on the same attempt", state: run.StatePending,
			ev: run.LeaseExpired{Token: token},
			want: run.Result{
				Transitions: []run.Transition{{From: "PENDING", To: "SCHEDULED", ToName: "Scheduled",
					Attempt: 1, Message: "lease expired before the run started; rescheduled",
					Actor: run.ActorLeaseReaper, LeaseToken: token}},
				Next: with(base(run.StatePending), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateScheduled, run.NameScheduled
					s.LeaseToken, s.AgentID = 0, ""
				}),
				ClearLease: true,
			},
		},
		{
			name: "expired lease while running crashes and retries", state: run.StateRunning,
			ev: run.LeaseExpired{Token: token},
			want: run.Result{
				Transitions: []run.Transition{
					{From: "RUNNING", To: "CRASHED", ToName: "Crashed", Attempt: 1,
						Message: "agent lost: lease expired", Actor: run.ActorLeaseReaper, LeaseToken: token},
					{From: "CRASHED", To: "SCHEDULED", ToName: "AwaitingRetry", Attempt: 2,
						Message: "automatic retry: attempt 2 of 3", Actor: run.ActorRetryPolicy},
				},
				Next: with(base(run.StateRunning), func(s *run.Snapshot) {
					s.State, s.StateName, s.Attempt = run.StateScheduled, run.NameAwaitingRetry, 2
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateCrashed, run.NameCrashed)
				}),
				NotBefore:  now.Add(8 * time.Second),
				ClearLease: true,
			},
		},
		{
			name: "expired lease while cancelling cancels", state: run.StateCancelling,
			ev: run.LeaseExpired{Token: token},
			want: run.Result{
				Transitions: []run.Transition{{From: "CANCELLING", To: "CANCELLED", ToName: "Cancelled",
					Attempt: 1, Message: "agent gone; cancelled on lease expiry",
					Actor: run.ActorLeaseReaper, LeaseToken: token}},
				Next: with(base(run.StateCancelling), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateCancelled, run.NameCancelled
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateCancelled, run.NameCancelled)
				}),
				ClearLease: true, Terminal: true,
			},
		},
		{
			name: "failure while cancelling is recorded and not retried", state: run.StateCancelling,
			ev: run.Failed{Token: token, ExitCode: ptr[int32](137), Message: "killed", Kind: run.FailureFailed},
			want: run.Result{
				Transitions: []run.Transition{{From: "CANCELLING", To: "FAILED", ToName: "Failed",
					Attempt: 1, Message: "killed", Actor: "agent:agent-1", LeaseToken: token}},
				Next: with(base(run.StateCancelling), func(s *run.Snapshot) {
					s.State, s.StateName = run.StateFailed, run.NameFailed
					s.LeaseToken, s.AgentID = 0, ""
					s.Ended = ended(run.StateFailed, run.NameFailed)
				}),
				ClearLease: true, Terminal: true, ExitCode: ptr[int32](137),
			},
		},
		{
			name: "manual retry raises max attempts", state: run.StateFailed, ev: run.Retry{Actor: user},
			want: run.Result{
				Transitions: []run.Transition{{From: "FAILED", To: "SCHEDULED", ToName: "Scheduled",
					Attempt: 4, Message: "retry requested", Actor: user}},
				Next: with(base(run.StateFailed), func(s *run.Snapshot) {
					s.State, s.StateName, s.Attempt, s.MaxAttempts = run.StateScheduled, run.NameScheduled, 4, 4
				}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(base(tt.state), tt.ev, now, lowest)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func with(s run.Snapshot, f func(*run.Snapshot)) run.Snapshot {
	f(&s)
	return s
}

func TestApplyManualRetryKeepsHigherMax(t *testing.T) {
	t.Parallel()
	snap := base(run.StateCrashed)
	snap.Attempt, snap.MaxAttempts = 2, 5
	res, err := run.Apply(snap, run.Retry{Actor: user}, now, nil)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res.Next.Attempt != 3 || res.Next.MaxAttempts != 5 {
		t.Errorf("attempt %d of %d, want 3 of 5", res.Next.Attempt, res.Next.MaxAttempts)
	}

	snap.Attempt, snap.MaxAttempts = math.MaxInt32, math.MaxInt32
	if _, err := run.Apply(snap, run.Retry{Actor: user}, now, nil); !errors.Is(err, run.ErrNotRetryable) {
		t.Errorf("retry at the last attempt number: error = %v, want ErrNotRetryable", err)
	}
}

// TestApplyStaleToken sends every token-carrying event with a wrong token, with
// token 0, and (for a claim) from the wrong agent, in every state.
func TestApplyStaleToken(t *testing.T) {
	t.Parallel()
	for _, s := range run.AllStates() {
		for _, tok := range []int64{stale, 0} {
			for _, v := range variants(tok) {
				if v.name == "cancel_requested" || v.name == "retry" {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/token_%d", s, v.name, tok), func(t *testing.T) {
					t.Parallel()
					res, err := run.Apply(base(s), v.ev, now, lowest)
					checkOutcome(t, base(s), res, err, fails(run.ErrStaleToken))
				})
			}
		}
	}

	for _, s := range []run.State{run.StateScheduled, run.StatePending} {
		t.Run(string(s)+"/claim_by_other_agent", func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(base(s), run.Claim{AgentID: "agent-2", Token: token}, now, nil)
			checkOutcome(t, base(s), res, err, fails(run.ErrStaleToken))
		})
	}

	// A claim for a run whose offer was withdrawn (no agent) is stale even
	// with the right token.
	t.Run("claim_after_offer_withdrawn", func(t *testing.T) {
		t.Parallel()
		snap := base(run.StateScheduled)
		snap.AgentID = ""
		res, err := run.Apply(snap, run.Claim{AgentID: agent, Token: token}, now, nil)
		checkOutcome(t, snap, res, err, fails(run.ErrStaleToken))
	})
}

// TestApplyDuplicates applies an event, then the same event to the result,
// and expects the repeat to be a duplicate that changes nothing.
func TestApplyDuplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state run.State
		ev    run.Event
	}{
		{run.StateScheduled, run.Claim{AgentID: agent, Token: token}},
		{run.StatePending, run.Started{Token: token}},
		{run.StateRunning, run.Completed{Token: token, ExitCode: 0}},
		{run.StateRunning, run.Failed{Token: token, Kind: run.FailureFailed}},
		{run.StateRunning, run.Failed{Token: token, Kind: run.FailureTimedOut}},
		{run.StatePending, run.Failed{Token: token, Kind: run.FailureRejected}},
		{run.StateRunning, run.Crashed{Token: token, Message: "lost"}},
		{run.StateRunning, run.Cancelled{Token: token}},
		{run.StateCancelling, run.Cancelled{Token: token}},
		{run.StateCancelling, run.Crashed{Token: token}},
		{run.StateRunning, run.CancelRequested{Actor: user}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%v", tt.state, tt.ev.EventKind(), tt.ev), func(t *testing.T) {
			t.Parallel()
			first, err := run.Apply(base(tt.state), tt.ev, now, lowest)
			if err != nil || first.Duplicate {
				t.Fatalf("first Apply = duplicate %v, error %v", first.Duplicate, err)
			}
			again, err := run.Apply(first.Next, tt.ev, now.Add(time.Minute), lowest)
			checkOutcome(t, first.Next, again, err, dup())
		})
	}
}

// TestApplyReportAfterAutomaticRetry checks that a report about an attempt that
// was retried automatically is still recognised after the run moved on: the
// same report is a duplicate, a different one is refused as terminal, even
// once the next attempt holds a new lease.
func TestApplyReportAfterAutomaticRetry(t *testing.T) {
	t.Parallel()
	failed := run.Failed{Token: token, ExitCode: ptr[int32](1), Kind: run.FailureFailed}
	first, err := run.Apply(base(run.StateRunning), failed, now, lowest)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	retrying := first.Next
	if retrying.State != run.StateScheduled || retrying.StateName != run.NameAwaitingRetry {
		t.Fatalf("after failure: %s/%s, want SCHEDULED/AwaitingRetry", retrying.State, retrying.StateName)
	}

	// The dispatcher offers attempt 2 to another agent, which claims it.
	offered := with(retrying, func(s *run.Snapshot) { s.LeaseToken, s.AgentID = 8, "agent-2" })
	claimed, err := run.Apply(offered, run.Claim{AgentID: "agent-2", Token: 8}, now, nil)
	if err != nil {
		t.Fatalf("claim attempt 2: %v", err)
	}

	for _, snap := range []run.Snapshot{retrying, offered, claimed.Next} {
		name := fmt.Sprintf("%s_token_%d", snap.State, snap.LeaseToken)
		t.Run(name+"/same_report", func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(snap, failed, now, lowest)
			checkOutcome(t, snap, res, err, dup())
		})
		t.Run(name+"/conflicting_report", func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(snap, run.Completed{Token: token}, now, lowest)
			checkOutcome(t, snap, res, err, fails(run.ErrTerminal))
		})
		t.Run(name+"/old_claim", func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(snap, run.Claim{AgentID: agent, Token: token}, now, lowest)
			checkOutcome(t, snap, res, err, fails(run.ErrTerminal))
		})
	}
}

// TestApplyRetryExhaustion drives a run through offer, claim, start and
// failure until its attempts run out: the first two failures are retried, the
// third stays FAILED.
func TestApplyRetryExhaustion(t *testing.T) {
	t.Parallel()
	snap := run.Snapshot{
		State: run.StateScheduled, StateName: run.NameScheduled,
		Attempt: 1, MaxAttempts: 3,
		RetryDelay: time.Minute, RetryOn: run.DefaultRetryOn,
	}
	at := now
	wantDelays := []time.Duration{time.Minute, 2 * time.Minute}
	for i := range 3 {
		tok := int64(100 + i)
		snap.LeaseToken, snap.AgentID = tok, agent
		for _, ev := range []run.Event{run.Claim{AgentID: agent, Token: tok}, run.Started{Token: tok}} {
			res, err := run.Apply(snap, ev, at, nil)
			if err != nil {
				t.Fatalf("attempt %d: %s: %v", i+1, ev.EventKind(), err)
			}
			snap = res.Next
		}
		res, err := run.Apply(snap, run.Failed{Token: tok, Kind: run.FailureFailed}, at, nil)
		if err != nil {
			t.Fatalf("attempt %d: failed: %v", i+1, err)
		}
		checkInvariants(t, snap, res, at)
		if i < 2 {
			if len(res.Transitions) != 2 || res.Next.StateName != run.NameAwaitingRetry || res.Next.Attempt != int32(i+2) {
				t.Fatalf("attempt %d: transitions %v, next %+v; want a retry as attempt %d",
					i+1, res.Transitions, res.Next, i+2)
			}
			if got := res.NotBefore.Sub(at); got != wantDelays[i] {
				t.Errorf("attempt %d: retry delay %v, want %v", i+1, got, wantDelays[i])
			}
			at = res.NotBefore
		} else {
			want := []run.Transition{{From: "RUNNING", To: "FAILED", ToName: "Failed", Attempt: 3,
				Actor: "agent:agent-1", LeaseToken: tok}}
			if diff := cmp.Diff(want, res.Transitions); diff != "" {
				t.Errorf("last attempt transitions (-want +got):\n%s", diff)
			}
			if !res.Terminal || res.Next.State != run.StateFailed || !res.NotBefore.IsZero() {
				t.Errorf("last attempt: next %+v, terminal %v, not before %v; want FAILED for good",
					res.Next, res.Terminal, res.NotBefore)
			}
		}
		snap = res.Next
	}
}

// TestApplyRetryOn checks that only the outcomes in RetryOn are retried.
func TestApplyRetryOn(t *testing.T) {
	t.Parallel()
	events := map[string]run.Event{
		"failed":        run.Failed{Token: token, Kind: run.FailureFailed},
		"timed_out":     run.Failed{Token: token, Kind: run.FailureTimedOut},
		"rejected":      run.Failed{Token: token, Kind: run.FailureRejected},
		"crashed":       run.Crashed{Token: token},
		"lease_expired": run.LeaseExpired{Token: token},
		"completed":     run.Completed{Token: token},
		"cancelled":     run.Cancelled{Token: token},
	}
	tests := []struct {
		retryOn run.RetryOn
		retried []string
	}{
		{0, nil},
		{run.RetryOnFailed, []string{"failed"}},
		{run.RetryOnTimedOut, []string{"timed_out"}},
		{run.RetryOnCrashed, []string{"crashed", "lease_expired"}},
		{run.DefaultRetryOn, []string{"crashed", "failed", "lease_expired", "timed_out"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("retry_on_%03b", tt.retryOn), func(t *testing.T) {
			t.Parallel()
			var retried []string
			for name, ev := range events {
				snap := base(run.StateRunning)
				snap.RetryOn = tt.retryOn
				res, err := run.Apply(snap, ev, now, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if res.Next.State == run.StateScheduled {
					retried = append(retried, name)
				}
			}
			slices.Sort(retried)
			if diff := cmp.Diff(tt.retried, retried); diff != "" {
				t.Errorf("retried outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyInvalidInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		snap run.Snapshot
		ev   run.Event
		want error
	}{
		{"unknown state", with(base(run.StateRunning), func(s *run.Snapshot) { s.State = "LOST" }),
			run.Started{Token: token}, run.ErrUnknownState},
		{"attempt zero", with(base(run.StateRunning), func(s *run.Snapshot) { s.Attempt = 0 }),
			run.Started{Token: token}, run.ErrInvalidSnapshot},
		{"max attempts zero", with(base(run.StateRunning), func(s *run.Snapshot) { s.MaxAttempts = 0 }),
			run.Started{Token: token}, run.ErrInvalidSnapshot},
		{"nil event", base(run.StateRunning), nil, run.ErrInvalidEvent},
		{"pointer event", base(run.StateRunning), &run.Started{Token: token}, run.ErrInvalidEvent},
		{"failure without kind", base(run.StateRunning), run.Failed{Token: token}, run.ErrInvalidEvent},
		{"failure of unknown kind", base(run.StateRunning), run.Failed{Token: token, Kind: "Exploded"},
			run.ErrInvalidEvent},
		{"claim without agent", base(run.StateScheduled), run.Claim{Token: token}, run.ErrInvalidEvent},
		{"cancel without actor", base(run.StateRunning), run.CancelRequested{Reason: "x"}, run.ErrInvalidEvent},
		{"retry without actor", base(run.StateFailed), run.Retry{}, run.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := run.Apply(tt.snap, tt.ev, now, nil)
			checkOutcome(t, tt.snap, res, err, fails(tt.want))
		})
	}
}

// TestApplyTerminalRowWithLease checks that a terminal row that still holds a
// lease token (one not written by Apply) refuses every report under it.
func TestApplyTerminalRowWithLease(t *testing.T) {
	t.Parallel()
	for _, s := range run.AllStates() {
		if !run.IsTerminal(s) {
			continue
		}
		snap := with(base(s), func(s *run.Snapshot) {
			s.LeaseToken, s.AgentID, s.Ended = token, agent, run.Ended{}
		})
		for _, v := range variants(token) {
			if v.name == "retry" {
				continue
			}
			t.Run(string(s)+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				res, err := run.Apply(snap, v.ev, now, nil)
				checkOutcome(t, snap, res, err, fails(run.ErrTerminal))
			})
		}
	}
}

// TestLegalMatchesApply checks that the edges produced by applying every event
// to every state are exactly the Legal edges.
func TestLegalMatchesApply(t *testing.T) {
	t.Parallel()
	produced := map[[2]run.State]bool{}
	for _, s := range run.AllStates() {
		for _, v := range variants(token) {
			res, err := run.Apply(base(s), v.ev, now, nil)
			if err != nil {
				continue
			}
			for _, tr := range res.Transitions {
				produced[[2]run.State{tr.From, tr.To}] = true
			}
		}
	}
	for _, from := range run.AllStates() {
		for _, to := range run.AllStates() {
			edge := [2]run.State{from, to}
			if got, want := run.Legal(from, to), produced[edge]; got != want {
				t.Errorf("Legal(%s, %s) = %v, but Apply produces it: %v", from, to, got, want)
			}
		}
	}
	if run.Legal("BOGUS", run.StateRunning) || run.Legal(run.StateRunning, "BOGUS") {
		t.Error("Legal accepts an unknown state")
	}
}
