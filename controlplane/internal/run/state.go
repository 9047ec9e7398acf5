package run

import (
	"fmt"
	"slices"
)

// State is the stored state of a run. Its values are the strings kept in the
// runs table.
type State string

// The run states. [StateCompleted], [StateFailed], [StateCrashed] and
// [StateCancelled] are terminal.
const (
	// StateScheduled waits for an agent: not yet offered, offered, or waiting
	// for a retry delay to pass.
	StateScheduled State = "SCHEDULED"
	// StatePending is claimed by an agent, which is launching it.
	StatePending State = "PENDING"
	// StateRunning has a process the agent reported as started.
	StateRunning State = "RUNNING"
	// StateCompleted ended successfully.
	StateCompleted State = "COMPLETED"
	// StateFailed ended unsuccessfully: a failure, a timeout or a rejection.
	StateFailed State = "FAILED"
	// StateCrashed ended because the infrastructure or the agent was lost.
	StateCrashed State = "CRASHED"
	// StateCancelling has a cancel request that the agent has not confirmed.
	StateCancelling State = "CANCELLING"
	// StateCancelled ended because it was cancelled.
	StateCancelled State = "CANCELLED"
)

// State names: the display name stored beside a state. Most states have one
// name; SCHEDULED and FAILED have several.
const (
	// NameScheduled is the usual name of a SCHEDULED run.
	NameScheduled = "Scheduled"
	// NameLate is a SCHEDULED run past due by a threshold. This package never
	// produces it; the scheduler renames runs as time passes.
	NameLate = "Late"
	// NameAwaitingRetry is a SCHEDULED run waiting for its retry delay.
	NameAwaitingRetry = "AwaitingRetry"
	// NamePending is the name of a PENDING run.
	NamePending = "Pending"
	// NameRunning is the name of a RUNNING run.
	NameRunning = "Running"
	// NameCompleted is the name of a COMPLETED run.
	NameCompleted = "Completed"
	// NameFailed is a FAILED run whose process failed.
	NameFailed = "Failed"
	// NameTimedOut is a FAILED run stopped at its deadline.
	NameTimedOut = "TimedOut"
	// NameRejected is a FAILED run the agent refused to launch.
	NameRejected = "Rejected"
	// NameCrashed is the name of a CRASHED run.
	NameCrashed = "Crashed"
	// NameCancelling is the name of a CANCELLING run.
	NameCancelling = "Cancelling"
	// NameCancelled is the name of a CANCELLED run.
	NameCancelled = "Cancelled"
)

// allStates lists every state in lifecycle order.
var allStates = []State{
	StateScheduled, StatePending, StateRunning, StateCompleted,
	StateFailed, StateCrashed, StateCancelling, StateCancelled,
}

// defaultNames maps each state to the name it takes when nothing more
// specific applies.
var defaultNames = map[State]string{
	StateScheduled:  NameScheduled,
	StatePending:    NamePending,
	StateRunning:    NameRunning,
	StateCompleted:  NameCompleted,
	StateFailed:     NameFailed,
	StateCrashed:    NameCrashed,
	StateCancelling: NameCancelling,
	StateCancelled:  NameCancelled,
}

// legalEdges is the state graph: for each state, the states a single
// [Transition] may lead to. It is derived from the rules of [Apply], and the
// tests check that the two agree in both directions.
var legalEdges = map[State][]State{
	StateScheduled: {StatePending, StateCancelled},
	StatePending: {
		StateRunning, StateScheduled, StateCompleted, StateFailed,
		StateCrashed, StateCancelling, StateCancelled,
	},
	StateRunning: {
		StateCompleted, StateFailed, StateCrashed, StateCancelling, StateCancelled,
	},
	StateCancelling: {StateCompleted, StateFailed, StateCrashed, StateCancelled},
	StateFailed:     {StateScheduled},
	StateCrashed:    {StateScheduled},
	StateCancelled:  {StateScheduled},
}

// AllStates returns every run state in lifecycle order. The slice is a fresh
// copy that the caller may modify.
func AllStates() []State {
	return slices.Clone(allStates)
}

// IsTerminal reports whether s is a state a run leaves only by a manual retry:
// COMPLETED, FAILED, CRASHED or CANCELLED.
func IsTerminal(s State) bool {
	switch s {
	case StateCompleted, StateFailed, StateCrashed, StateCancelled:
		return true
	}
	return false
}

// Valid reports whether s is one of the run states.
func (s State) Valid() bool {
	_, ok := defaultNames[s]
	return ok
}

// ParseState returns the state spelled exactly as str (upper case, as stored).
// It returns an error wrapping [ErrUnknownState] for any other string.
func ParseState(str string) (State, error) {
	s := State(str)
	if !s.Valid() {
		return "", fmt.Errorf("parse state %q: %w", str, ErrUnknownState)
	}
	return s, nil
}

// DefaultName returns the name a run in state s takes when nothing more
// specific applies ("Scheduled", "Failed", "Running", ...), or "" for an
// unknown state.
func DefaultName(s State) string {
	return defaultNames[s]
}

// ValidName reports whether name may be stored beside state s: "Scheduled",
// "Late" or "AwaitingRetry" for SCHEDULED; "Failed", "TimedOut" or "Rejected"
// for FAILED; the state's [DefaultName] otherwise.
func ValidName(s State, name string) bool {
	switch s {
	case StateScheduled:
		return name == NameScheduled || name == NameLate || name == NameAwaitingRetry
	case StateFailed:
		return name == NameFailed || name == NameTimedOut || name == NameRejected
	}
	return s.Valid() && name == defaultNames[s]
}

// Legal reports whether a single recorded transition from one state to another
// is an edge of the state graph. Every [Transition] that [Apply] returns is
// legal, and every legal edge is produced by some event, so a stored history
// whose consecutive states are not Legal was not written by this package.
func Legal(from, to State) bool {
	return slices.Contains(legalEdges[from], to)
}
