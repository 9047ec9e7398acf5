package run

import (
	"fmt"
	"math"
	"time"
)

// Actors recorded on transitions that no user asked for.
const (
	// ActorLeaseReaper is the actor of transitions caused by a lease expiry.
	ActorLeaseReaper = "system:lease-reaper"
	// ActorRetryPolicy is the actor of automatic retries.
	ActorRetryPolicy = "system:retry-policy"
)

// Messages of the transitions this package writes itself.
const (
	msgRequeued          = "lease expired before the run started; rescheduled"
	msgAgentLost         = "agent lost: lease expired"
	msgCancelledOnExpiry = "agent gone; cancelled on lease expiry"
	msgManualRetry       = "retry requested"
)

// AgentActor returns the actor recorded on transitions an agent caused.
func AgentActor(agentID string) string {
	return "agent:" + agentID
}

// Snapshot is the part of a run row the state machine reads and writes.
type Snapshot struct {
	// State is the run's state.
	State State
	// StateName is the display name stored beside State (see [ValidName]).
	StateName string
	// Attempt is the current attempt, counted from 1.
	Attempt int32
	// MaxAttempts is 1 plus the number of retries allowed; at least 1.
	MaxAttempts int32
	// LeaseToken is the fencing token of the current offer (SCHEDULED) or
	// lease (PENDING, RUNNING, CANCELLING); 0 when there is none. Apply sets
	// it to 0 whenever the lease ends.
	LeaseToken int64
	// AgentID is the agent holding the offer or lease; "" when none.
	AgentID string
	// RetryDelay is the base delay of the deployment's retry policy.
	RetryDelay time.Duration
	// RetryOn is the set of outcomes retried automatically; zero retries
	// nothing.
	RetryOn RetryOn
	// Ended is the newest attempt that ended while holding a lease.
	Ended Ended
}

// Ended records how the newest leased attempt of a run ended, so that a report
// about it repeated later (even after an automatic retry moved the run on) is
// told apart from a conflicting one. Apply keeps it up to date in
// [Result.Next]; a store that does not keep it in columns can rebuild it from
// the newest history row into a terminal state whose lease token is not 0.
// A repeat is recognised by token, state and name; exit code and message are
// not compared.
type Ended struct {
	// Token is the lease token the attempt held; 0 when no attempt has ended.
	Token int64
	// State is the terminal state the attempt ended in.
	State State
	// Name is the state name the attempt ended with.
	Name string
}

// Transition is one state change to record in the run's history.
type Transition struct {
	// From is the state before the change.
	From State
	// To is the state after the change.
	To State
	// ToName is the state name after the change.
	ToName string
	// Attempt is the attempt the new state belongs to: for the move from
	// FAILED or CRASHED back to SCHEDULED, the new attempt.
	Attempt int32
	// Message says why, for people; may be empty.
	Message string
	// Actor is who caused the change: the event's actor, [AgentActor] of the
	// reporting agent, [ActorLeaseReaper] or [ActorRetryPolicy].
	Actor string
	// LeaseToken is the lease the change happened under; 0 when none (a
	// cancel before any claim, a retry).
	LeaseToken int64
}

// Result is the outcome of applying an event.
//
// Transitions empty and Duplicate false means the event was accepted but there
// is no state change to record: an expired offer was withdrawn (ClearLease is
// set and Next has no agent or token), or a Started report arrived for a run
// already CANCELLING.
type Result struct {
	// Transitions are the state changes to record, in order; empty for a
	// duplicate or when nothing changes state.
	Transitions []Transition
	// Next is the row to write back. For a duplicate it equals the snapshot.
	Next Snapshot
	// NotBefore is, for a run moved to "AwaitingRetry", the earliest time its
	// next attempt may start; zero otherwise, meaning no delay.
	NotBefore time.Time
	// ClearLease reports whether the row had a lease or offer that must now be
	// cleared (agent, token and expiry time).
	ClearLease bool
	// Duplicate reports whether the event repeats one already applied; the
	// row must not change and the sender should be told it succeeded.
	Duplicate bool
	// Terminal reports whether Next.State is terminal.
	Terminal bool
	// ExitCode is the exit code reported by the agent, when there is one.
	ExitCode *int32
}

// Apply computes the effect of ev on the run described by s at time now. rnd
// supplies the jitter of automatic retry delays (see [Backoff]); it may be nil.
//
// Apply changes nothing itself; the caller records [Result.Transitions] and
// writes [Result.Next]. On error the Result is zero and the error wraps one of
// [ErrStaleToken], [ErrTerminal], [ErrNotRetryable], [ErrNotTerminal],
// [ErrInvalidTransition], [ErrInvalidEvent], [ErrInvalidSnapshot] or
// [ErrUnknownState].
func Apply(s Snapshot, ev Event, now time.Time, rnd Rand) (Result, error) {
	if err := s.validate(); err != nil {
		return Result{}, fmt.Errorf("apply event: %w", err)
	}
	m := machine{s: s, now: now, rnd: rnd}
	var (
		res Result
		err error
	)
	switch e := ev.(type) {
	case Claim:
		res, err = m.claim(e)
	case Started:
		res, err = m.started(e)
	case Completed:
		code := e.ExitCode
		res, err = m.report(e.Token, StateCompleted, NameCompleted, "", &code, 0)
	case Failed:
		if !e.Kind.valid() {
			return Result{}, fmt.Errorf("apply failed report of kind %q: %w", e.Kind, ErrInvalidEvent)
		}
		var code *int32
		if e.ExitCode != nil {
			c := *e.ExitCode
			code = &c
		}
		res, err = m.report(e.Token, StateFailed, string(e.Kind), e.Message, code, e.Kind.retryFlag())
	case Crashed:
		res, err = m.report(e.Token, StateCrashed, NameCrashed, e.Message, nil, RetryOnCrashed)
	case Cancelled:
		res, err = m.report(e.Token, StateCancelled, NameCancelled, e.Message, nil, 0)
	case CancelRequested:
		res, err = m.cancelRequested(e)
	case LeaseExpired:
		res, err = m.leaseExpired(e)
	case Retry:
		res, err = m.retry(e)
	default:
		return Result{}, fmt.Errorf("apply event of type %T: %w", ev, ErrInvalidEvent)
	}
	if err != nil {
		return Result{}, fmt.Errorf("apply %s to %s run: %w", ev.EventKind(), s.State, err)
	}
	res.Terminal = IsTerminal(res.Next.State)
	return res, nil
}

func (s Snapshot) validate() error {
	if !s.State.Valid() {
		return fmt.Errorf("snapshot state %q: %w", s.State, ErrUnknownState)
	}
	if s.Attempt < 1 || s.MaxAttempts < 1 {
		return fmt.Errorf("snapshot attempt %d of %d: %w", s.Attempt, s.MaxAttempts, ErrInvalidSnapshot)
	}
	return nil
}

// machine holds the inputs of one [Apply] call.
type machine struct {
	s   Snapshot
	now time.Time
	rnd Rand
}

// duplicate answers an event whose effect is already recorded.
func (m *machine) duplicate() Result {
	return Result{Next: m.s, Duplicate: true}
}

// move returns a result with one transition from the current state to (to,
// name) within the current attempt, and Next updated to match.
func (m *machine) move(to State, name, msg, actor string, token int64) Result {
	next := m.s
	next.State, next.StateName = to, name
	return Result{
		Transitions: []Transition{{
			From: m.s.State, To: to, ToName: name, Attempt: m.s.Attempt,
			Message: msg, Actor: actor, LeaseToken: token,
		}},
		Next: next,
	}
}

// clearLease drops the offer or lease from res.Next, if it has one.
func clearLease(res *Result) {
	res.ClearLease = res.Next.LeaseToken != 0 || res.Next.AgentID != ""
	res.Next.LeaseToken, res.Next.AgentID = 0, ""
}

func (m *machine) claim(e Claim) (Result, error) {
	s := m.s
	if e.AgentID == "" {
		return Result{}, fmt.Errorf("claim without agent: %w", ErrInvalidEvent)
	}
	if e.Token != 0 && e.Token == s.Ended.Token {
		return Result{}, fmt.Errorf("claim for an attempt that ended %s: %w", s.Ended.State, ErrTerminal)
	}
	if e.Token == 0 || e.Token != s.LeaseToken || e.AgentID != s.AgentID {
		return Result{}, ErrStaleToken
	}
	switch s.State {
	case StateScheduled:
		return m.move(StatePending, NamePending, "", AgentActor(e.AgentID), e.Token), nil
	case StatePending:
		return m.duplicate(), nil
	}
	if IsTerminal(s.State) {
		return Result{}, ErrTerminal
	}
	return Result{}, ErrInvalidTransition
}

// checkReport fences an agent report by its token. outcome and name are the
// terminal state the report would record ("" for Started). It returns
// dup=true when the report repeats how the attempt holding token ended.
func (m *machine) checkReport(token int64, outcome State, name string) (dup bool, err error) {
	s := m.s
	if token != 0 && token == s.Ended.Token {
		if outcome == s.Ended.State && name == s.Ended.Name {
			return true, nil
		}
		return false, fmt.Errorf("report for an attempt that ended %s (%s): %w",
			s.Ended.State, s.Ended.Name, ErrTerminal)
	}
	if token == 0 || token != s.LeaseToken {
		return false, ErrStaleToken
	}
	if IsTerminal(s.State) {
		return false, ErrTerminal
	}
	return false, nil
}

func (m *machine) started(e Started) (Result, error) {
	s := m.s
	if _, err := m.checkReport(e.Token, "", ""); err != nil {
		return Result{}, err
	}
	switch s.State {
	case StatePending:
		return m.move(StateRunning, NameRunning, "", AgentActor(s.AgentID), e.Token), nil
	case StateRunning:
		return m.duplicate(), nil
	case StateCancelling:
		// The process started before the agent saw the cancel request; the run
		// stays CANCELLING until the agent confirms the stop.
		return Result{Next: s}, nil
	}
	return Result{}, ErrInvalidTransition
}

// report applies an agent's final report: the run ends in (to, name), and is
// retried automatically when retryFlag is in the deployment's RetryOn and
// attempts remain. A run being cancelled is never retried automatically.
func (m *machine) report(
	token int64,
	to State,
	name string,
	msg string,
	exitCode *int32,
	retryFlag RetryOn,
) (Result, error) {
	s := m.s
	dup, err := m.checkReport(token, to, name)
	if err != nil {
		return Result{}, err
	}
	if dup {
		return m.duplicate(), nil
	}
	switch s.State {
	case StatePending, StateRunning:
	case StateCancelling:
		retryFlag = 0
	default:
		return Result{}, ErrInvalidTransition
	}
	res := m.finish(to, name, msg, AgentActor(s.AgentID), retryFlag)
	res.ExitCode = exitCode
	return res, nil
}

// finish ends the leased attempt in (to, name), then schedules the next
// attempt if retryFlag allows it.
func (m *machine) finish(to State, name, msg, actor string, retryFlag RetryOn) Result {
	s := m.s
	res := m.move(to, name, msg, actor, s.LeaseToken)
	res.Next.Ended = Ended{Token: s.LeaseToken, State: to, Name: name}
	clearLease(&res)
	if !s.RetryOn.Has(retryFlag) || s.Attempt >= s.MaxAttempts {
		return res
	}

	next := s.Attempt + 1
	delay := Backoff(s.Attempt, s.RetryDelay, m.rnd)
	res.Transitions = append(res.Transitions, Transition{
		From: to, To: StateScheduled, ToName: NameAwaitingRetry, Attempt: next,
		Message: fmt.Sprintf("automatic retry: attempt %d of %d", next, s.MaxAttempts),
		Actor:   ActorRetryPolicy,
	})
	res.Next.State, res.Next.StateName, res.Next.Attempt = StateScheduled, NameAwaitingRetry, next
	res.NotBefore = m.now.Add(delay)
	return res
}

func (m *machine) cancelRequested(e CancelRequested) (Result, error) {
	s := m.s
	if e.Actor == "" {
		return Result{}, fmt.Errorf("cancel without actor: %w", ErrInvalidEvent)
	}
	switch s.State {
	case StateScheduled:
		// Nothing runs yet: cancel at once and withdraw any offer.
		res := m.move(StateCancelled, NameCancelled, e.Reason, e.Actor, 0)
		clearLease(&res)
		return res, nil
	case StatePending, StateRunning:
		return m.move(StateCancelling, NameCancelling, e.Reason, e.Actor, s.LeaseToken), nil
	case StateCancelling:
		return m.duplicate(), nil
	}
	return Result{}, ErrTerminal
}

func (m *machine) leaseExpired(e LeaseExpired) (Result, error) {
	s := m.s
	if e.Token == 0 || e.Token != s.LeaseToken {
		return Result{}, ErrStaleToken
	}
	switch s.State {
	case StateScheduled:
		// An unclaimed offer is withdrawn so that another agent may get it; the
		// state does not change, so there is nothing to record.
		res := Result{Next: s}
		clearLease(&res)
		return res, nil
	case StatePending:
		// The agent never started the process: the same attempt goes back to
		// the queue.
		res := m.move(StateScheduled, NameScheduled, msgRequeued, ActorLeaseReaper, s.LeaseToken)
		clearLease(&res)
		return res, nil
	case StateRunning:
		return m.finish(StateCrashed, NameCrashed, msgAgentLost, ActorLeaseReaper, RetryOnCrashed), nil
	case StateCancelling:
		return m.finish(StateCancelled, NameCancelled, msgCancelledOnExpiry, ActorLeaseReaper, 0), nil
	}
	return Result{}, ErrTerminal
}

func (m *machine) retry(e Retry) (Result, error) {
	s := m.s
	if e.Actor == "" {
		return Result{}, fmt.Errorf("retry without actor: %w", ErrInvalidEvent)
	}
	switch {
	case s.State == StateCompleted:
		return Result{}, ErrNotRetryable
	case !IsTerminal(s.State):
		return Result{}, ErrNotTerminal
	case s.Attempt == math.MaxInt32:
		return Result{}, fmt.Errorf("attempt counter exhausted: %w", ErrNotRetryable)
	}

	next := s.Attempt + 1
	res := m.move(StateScheduled, NameScheduled, msgManualRetry, e.Actor, 0)
	res.Transitions[0].Attempt = next
	res.Next.Attempt = next
	res.Next.MaxAttempts = max(s.MaxAttempts, next)
	clearLease(&res)
	return res, nil
}
