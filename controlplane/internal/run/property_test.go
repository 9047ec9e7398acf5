package run_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/controlplane/internal/run"
)

// TestApplyRandomSequences drives many runs through random event sequences
// from a seeded source, with a simulated dispatcher making offers, and checks
// the invariants of every step: transitions are Legal and chained, terminal
// runs change only by a manual retry, errors change nothing. It also checks
// that the walk covered every Legal edge, so a broken generator cannot make
// the test pass vacuously.
func TestApplyRandomSequences(t *testing.T) {
	t.Parallel()
	const (
		sequences = 3000
		steps     = 40
	)
	r := rand.New(rand.NewPCG(20260329, 1))
	covered := map[[2]run.State]bool{}
	outcomes := map[string]int{}

	for range sequences {
		snap := run.Snapshot{
			State: run.StateScheduled, StateName: run.NameScheduled,
			Attempt: 1, MaxAttempts: 1 + r.Int32N(4),
			RetryDelay: time.Duration(r.Int64N(int64(time.Minute))),
			RetryOn:    run.RetryOn(r.IntN(8)),
		}
		issued := []int64{}
		at := now
		for range steps {
			at = at.Add(time.Duration(r.Int64N(int64(time.Minute))))

			// The dispatcher offers an unoffered SCHEDULED run half the time,
			// always with a fresh token.
			if snap.State == run.StateScheduled && snap.AgentID == "" && r.IntN(2) == 0 {
				tok := int64(len(issued) + 1)
				issued = append(issued, tok)
				snap.LeaseToken, snap.AgentID = tok, []string{"agent-1", "agent-2"}[r.IntN(2)]
				continue
			}

			ev := randomEvent(r, snap, issued)
			res, err := run.Apply(snap, ev, at, r.Int64N)
			if err != nil {
				outcomes["error"]++
				if diff := cmp.Diff(run.Result{}, res); diff != "" {
					t.Fatalf("%s on %+v: error %v with a non-zero result:\n%s", ev.EventKind(), snap, err, diff)
				}
				if !knownError(err) {
					t.Fatalf("%s on %+v: unexpected error %v", ev.EventKind(), snap, err)
				}
				continue
			}
			checkInvariants(t, snap, res, at)
			if t.Failed() {
				t.Fatalf("invariant broken by %#v on %+v", ev, snap)
			}
			if run.IsTerminal(snap.State) && !res.Duplicate {
				if _, ok := ev.(run.Retry); !ok {
					t.Fatalf("terminal run %+v changed by %#v to %+v", snap, ev, res.Next)
				}
			}
			switch {
			case res.Duplicate:
				outcomes["duplicate"]++
			case len(res.Transitions) == 0:
				outcomes["no transition"]++
			default:
				outcomes["transition"]++
			}
			for _, tr := range res.Transitions {
				covered[[2]run.State{tr.From, tr.To}] = true
			}
			snap = res.Next
		}
	}

	for _, from := range run.AllStates() {
		for _, to := range run.AllStates() {
			if run.Legal(from, to) && !covered[[2]run.State{from, to}] {
				t.Errorf("random walk never produced the legal edge %s -> %s", from, to)
			}
		}
	}
	for _, k := range []string{"error", "duplicate", "no transition", "transition"} {
		if outcomes[k] == 0 {
			t.Errorf("random walk never produced an outcome of type %q: %v", k, outcomes)
		}
	}
}

// randomEvent returns an event of a random kind. Tokens are mostly the current
// one, sometimes the ended attempt's, an older one, 0 or one never issued.
func randomEvent(r *rand.Rand, snap run.Snapshot, issued []int64) run.Event {
	tok := snap.LeaseToken
	switch p := r.IntN(100); {
	case p < 15:
		tok = snap.Ended.Token
	case p < 25 && len(issued) > 0:
		tok = issued[r.IntN(len(issued))]
	case p < 30:
		tok = 0
	case p < 35:
		tok = 1_000_000 + r.Int64N(1000)
	}
	kinds := []run.FailureKind{run.FailureFailed, run.FailureTimedOut, run.FailureRejected}
	switch r.IntN(9) {
	case 0:
		agent := snap.AgentID
		if agent == "" || r.IntN(5) == 0 {
			agent = "agent-3"
		}
		return run.Claim{AgentID: agent, Token: tok}
	case 1:
		return run.Started{Token: tok}
	case 2:
		return run.Completed{Token: tok, ExitCode: r.Int32N(2)}
	case 3:
		return run.Failed{Token: tok, ExitCode: ptr(r.Int32N(3)), Kind: kinds[r.IntN(len(kinds))]}
	case 4:
		return run.Crashed{Token: tok, Message: "lost"}
	case 5:
		return run.Cancelled{Token: tok}
	case 6:
		return run.CancelRequested{Actor: user, Reason: "random"}
	case 7:
		return run.LeaseExpired{Token: tok}
	default:
		return run.Retry{Actor: user}
	}
}

func knownError(err error) bool {
	for _, e := range []error{run.ErrStaleToken, run.ErrTerminal, run.ErrNotRetryable,
		run.ErrNotTerminal, run.ErrInvalidTransition} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
