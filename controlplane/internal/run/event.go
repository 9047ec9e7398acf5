package run

import "slices"

// EventKind names an event type, for logs and metrics.
type EventKind string

// The event kinds, one per event type.
const (
	EventClaim           EventKind = "claim"
	EventStarted         EventKind = "started"
	EventCompleted       EventKind = "completed"
	EventFailed          EventKind = "failed"
	EventCrashed         EventKind = "crashed"
	EventCancelled       EventKind = "cancelled"
	EventCancelRequested EventKind = "cancel_requested"
	EventLeaseExpired    EventKind = "lease_expired"
	EventRetry           EventKind = "retry"
)

var allEventKinds = []EventKind{
	EventClaim, EventStarted, EventCompleted, EventFailed, EventCrashed,
	EventCancelled, EventCancelRequested, EventLeaseExpired, EventRetry,
}

// AllEventKinds returns every event kind. The slice is a fresh copy that the
// caller may modify.
func AllEventKinds() []EventKind {
	return slices.Clone(allEventKinds)
}

// Event is something that may change a run's state. The set is closed: it is
// implemented only by the value types of this package ([Claim], [Started],
// [Completed], [Failed], [Crashed], [Cancelled], [CancelRequested],
// [LeaseExpired], [Retry]); [Apply] refuses pointers to them.
type Event interface {
	// EventKind returns the event's kind.
	EventKind() EventKind
	event()
}

// Claim is an agent taking a run it was offered. The dispatcher writes the
// offer (agent and fresh token) on the SCHEDULED row; the claim must name that
// agent and token.
type Claim struct {
	// AgentID is the claiming agent; it must equal the row's agent.
	AgentID string
	// Token is the offer's lease token.
	Token int64
}

// Started is an agent's report that the run's process has started.
type Started struct {
	// Token is the lease token the agent holds.
	Token int64
}

// Completed is an agent's report that the process exited successfully.
type Completed struct {
	// Token is the lease token the agent holds.
	Token int64
	// ExitCode is the process's exit code.
	ExitCode int32
}

// FailureKind says why a run failed; its values are the FAILED state names.
type FailureKind string

// The failure kinds. A [Failed] report must carry one of them.
const (
	// FailureFailed: the process failed (non-zero exit or launch error).
	FailureFailed FailureKind = NameFailed
	// FailureTimedOut: the agent stopped the process at its deadline.
	FailureTimedOut FailureKind = NameTimedOut
	// FailureRejected: the agent refused to launch the run, for example
	// because of its local policy or a bad work-order signature. It is never
	// retried automatically.
	FailureRejected FailureKind = NameRejected
)

// retryFlag returns the [RetryOn] bit that lets this kind of failure be
// retried automatically, or 0 when it never is.
func (k FailureKind) retryFlag() RetryOn {
	switch k {
	case FailureFailed:
		return RetryOnFailed
	case FailureTimedOut:
		return RetryOnTimedOut
	}
	return 0
}

func (k FailureKind) valid() bool {
	return k == FailureFailed || k == FailureTimedOut || k == FailureRejected
}

// Failed is an agent's report that the run ended unsuccessfully.
type Failed struct {
	// Token is the lease token the agent holds.
	Token int64
	// ExitCode is the process's exit code; nil when no process exited (a
	// rejection, a launch error).
	ExitCode *int32
	// Message says what went wrong, for people.
	Message string
	// Kind says why the run failed; it becomes the state name.
	Kind FailureKind
}

// Crashed is an agent's report that the infrastructure failed under the run
// (the container engine died, the task was lost).
type Crashed struct {
	// Token is the lease token the agent holds.
	Token int64
	// Message says what went wrong, for people.
	Message string
}

// Cancelled is an agent's confirmation that it stopped the run.
type Cancelled struct {
	// Token is the lease token the agent holds.
	Token int64
	// Message describes how the run was stopped, for people.
	Message string
}

// CancelRequested is a user or automation asking for the run to be cancelled.
type CancelRequested struct {
	// Actor is who asked, as recorded in the history; required.
	Actor string
	// Reason is why, recorded as the transition's message.
	Reason string
}

// LeaseExpired is the lease reaper finding the run's lease or offer past its
// expiry time.
type LeaseExpired struct {
	// Token is the lease token the reaper read with the expiry; if the row
	// has moved on since, the event is refused with [ErrStaleToken].
	Token int64
}

// Retry is a user asking for a new attempt of an ended run.
type Retry struct {
	// Actor is who asked, as recorded in the history; required.
	Actor string
}

// EventKind returns [EventClaim].
func (Claim) EventKind() EventKind { return EventClaim }

// EventKind returns [EventStarted].
func (Started) EventKind() EventKind { return EventStarted }

// EventKind returns [EventCompleted].
func (Completed) EventKind() EventKind { return EventCompleted }

// EventKind returns [EventFailed].
func (Failed) EventKind() EventKind { return EventFailed }

// EventKind returns [EventCrashed].
func (Crashed) EventKind() EventKind { return EventCrashed }

// EventKind returns [EventCancelled].
func (Cancelled) EventKind() EventKind { return EventCancelled }

// EventKind returns [EventCancelRequested].
func (CancelRequested) EventKind() EventKind { return EventCancelRequested }

// EventKind returns [EventLeaseExpired].
func (LeaseExpired) EventKind() EventKind { return EventLeaseExpired }

// EventKind returns [EventRetry].
func (Retry) EventKind() EventKind { return EventRetry }

func (Claim) event()           {}
func (Started) event()         {}
func (Completed) event()       {}
func (Failed) event()          {}
func (Crashed) event()         {}
func (Cancelled) event()       {}
func (CancelRequested) event() {}
func (LeaseExpired) event()    {}
func (Retry) event()           {}
