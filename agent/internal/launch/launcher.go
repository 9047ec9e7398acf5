package launch

import (
	"context"
	"errors"
	"time"
)

// ErrInvalidJob marks a start failure caused by the job itself rather than by
// the infrastructure: a command that does not exist, a template that names a
// missing parameter, a malformed environment. The agent turns such an error
// into a FAILED run; any other start error is an infrastructure problem.
// Test for it with errors.Is.
var ErrInvalidJob = errors.New("invalid job")

// Launcher starts runs on one kind of infrastructure (local processes, Docker
// containers, ECS tasks). Implementations are safe for concurrent use.
type Launcher interface {
	// Start launches one attempt of a run and returns a Handle to it once the
	// infrastructure has accepted it. Output is delivered to sink as lines
	// until Handle.Wait returns. ctx bounds only the start itself: cancelling it
	// later does not stop the run (use Handle.Cancel). An error wrapping
	// ErrInvalidJob means the job can never start as given.
	Start(ctx context.Context, job Job, sink LogSink) (Handle, error)
}

// Handle is one started attempt of a run. Its methods are safe for concurrent
// use and may be called any number of times.
type Handle interface {
	// InfrastructureID names the run on its infrastructure: a process id, a
	// container id or a task ARN. It is what the agent reports to the control
	// plane and what an operator looks for on the host.
	InfrastructureID() string

	// Wait blocks until the run has ended, its output has been delivered to the
	// LogSink and the resources it held are released, then returns its Outcome.
	// No LogSink call is made after Wait returns. The error is non-nil only when
	// ctx ends first; the run is unaffected and Wait may be called again.
	// Failures of the infrastructure are reported as an Outcome of kind
	// OutcomeCrashed, not as an error.
	Wait(ctx context.Context) (Outcome, error)

	// Cancel asks the run to stop: a graceful stop signal first, then a forced
	// kill once the job's stop grace has elapsed. It returns once the stop has
	// begun; Wait then reports OutcomeCancelled, unless the run had already
	// ended on its own, in which case Wait reports how it ended. reason is
	// shown to the user. Cancelling a run that is already stopping or has ended
	// does nothing.
	Cancel(ctx context.Context, reason string) error
}

// LogSink receives the lines a run writes, and the agent's own messages about
// the run on the [StreamSystem] stream. Line may be called from several
// goroutines at once (one per output stream), so implementations must be safe
// for concurrent use. Line must not block for long: a slow sink stalls the
// run's output pipes; the agent buffers.
type LogSink interface {
	Line(LogLine)
}

// Adopter is implemented by a [Launcher] whose runs outlive the agent process
// (Docker containers, ECS tasks), so that an agent restarted while runs were
// in flight can take them back instead of letting them be marked CRASHED.
// A launcher whose runs die with the agent (launch/process) does not
// implement it.
type Adopter interface {
	// Survivors lists the attempts that this launcher started, possibly in an
	// earlier life of the agent, and that its infrastructure still holds.
	Survivors(ctx context.Context) ([]Survivor, error)

	// Adopt returns a Handle to a run found by Survivors; the remaining
	// timeout is measured from Survivor.StartedAt. A launcher that can read a
	// run's output again from its start (launch/docker) delivers to sink every
	// output line after the first Survivor.SkipLines, so that no line is lost
	// or delivered twice across the restart; one that cannot delivers output
	// written from the moment of adoption. A run that had already ended is
	// reported by Handle.Wait at once, after its remaining output.
	Adopt(ctx context.Context, s Survivor, sink LogSink) (Handle, error)
}

// Survivor describes a run found on the infrastructure by [Adopter.Survivors].
// A launcher records these facts on the infrastructure at start (for example
// as container labels) so that it can read them back.
type Survivor struct {
	// RunID and Attempt identify the attempt, as in [Job].
	RunID   string
	Attempt int32
	// InfrastructureID is the container id or task ARN.
	InfrastructureID string
	// StartedAt is the wall-clock time the infrastructure reports for the start.
	// Wall time is the only time that survives an agent restart.
	StartedAt time.Time
	// Timeout and StopGrace are the job's, as recorded at start.
	Timeout   time.Duration
	StopGrace time.Duration
	// LeaseToken is [Job.LeaseToken], as recorded at start.
	LeaseToken int64
	// Ended reports whether the run had already ended when it was found.
	Ended bool
	// SkipLines is set by the caller before [Adopter.Adopt]: the number of
	// output lines of this attempt that were already delivered, counting
	// stdout and stderr lines together in delivery order and no StreamSystem
	// lines.
	SkipLines int64
}
