package launch

import "fmt"

// OutcomeKind says how a run ended. The zero value is not a valid kind.
type OutcomeKind int

// The ways a run can end.
const (
	// OutcomeSucceeded: the run exited with status 0.
	OutcomeSucceeded OutcomeKind = iota + 1
	// OutcomeFailed: the run exited with a non-zero status or was killed by a
	// signal it did not get from Ferry.
	OutcomeFailed
	// OutcomeTimedOut: the run was stopped because it reached [Job.Timeout].
	OutcomeTimedOut
	// OutcomeCancelled: the run was stopped by [Handle.Cancel].
	OutcomeCancelled
	// OutcomeCrashed: the infrastructure failed or lost track of the run.
	OutcomeCrashed
	// OutcomeRejected: the agent refused to launch the run (local policy).
	// Launchers never report it; the agent does.
	OutcomeRejected
)

// String returns the kind's name, such as "Succeeded".
func (k OutcomeKind) String() string {
	switch k {
	case OutcomeSucceeded:
		return "Succeeded"
	case OutcomeFailed:
		return "Failed"
	case OutcomeTimedOut:
		return "TimedOut"
	case OutcomeCancelled:
		return "Cancelled"
	case OutcomeCrashed:
		return "Crashed"
	case OutcomeRejected:
		return "Rejected"
	}
	return fmt.Sprintf("OutcomeKind(%d)", int(k))
}

// ExitCodeUnknown is the [Outcome.ExitCode] of a run whose exit status is not
// known, such as a crashed or rejected one.
const ExitCodeUnknown int32 = -1

// Outcome is how one attempt of a run ended.
type Outcome struct {
	// ExitCode is the exit status of the run's main process. A process killed
	// by signal N reports 128+N, as shells and Docker do. It is
	// [ExitCodeUnknown] when no status was observed.
	ExitCode int32
	// Kind classifies the ending.
	Kind OutcomeKind
	// Message explains the ending to a person, such as "exited with code 3" or
	// "timed out after 5m0s".
	Message string
}
