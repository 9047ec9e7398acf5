package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/clock"
)

// handle is the [launch.Handle] of one child process and its process group.
type handle struct {
	cmd     *exec.Cmd
	pid     int // also the process group id
	runID   string
	attempt int32
	timeout time.Duration
	grace   time.Duration

	sink           launch.LogSink
	stdout, stderr *launch.LineWriter
	clk            clock.Clock
	logger         *slog.Logger
	logCtx         context.Context

	cancelOnce   sync.Once
	cancelReq    chan struct{} // closed by Cancel
	cancelReason string        // set before cancelReq is closed
	stopping     chan struct{} // closed once SIGTERM has been sent
	done         chan struct{} // closed once outcome is set
	outcome      launch.Outcome
}

// stopCause is why the agent stopped a run.
type stopCause struct {
	kind    launch.OutcomeKind
	message string
}

// InfrastructureID returns the process id, which is also the id of the run's
// process group and session.
func (h *handle) InfrastructureID() string { return strconv.Itoa(h.pid) }

// Wait blocks until the run has ended and returns its outcome; see
// [launch.Handle].
func (h *handle) Wait(ctx context.Context) (launch.Outcome, error) {
	select {
	case <-h.done:
		return h.outcome, nil
	case <-ctx.Done():
		return launch.Outcome{}, fmt.Errorf("wait for process %d: %w", h.pid, context.Cause(ctx))
	}
}

// Cancel sends SIGTERM to the run's process group and returns; SIGKILL follows
// after the stop grace. See [launch.Handle].
func (h *handle) Cancel(ctx context.Context, reason string) error {
	h.cancelOnce.Do(func() {
		h.cancelReason = reason
		close(h.cancelReq)
	})
	select {
	case <-h.stopping:
		return nil
	case <-h.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cancel process %d: %w", h.pid, context.Cause(ctx))
	}
}

// supervise watches the run from start to outcome: it waits for the main
// process to exit, the deadline or a cancel, stops the group if needed, clears
// what is left of the group, drains the output and records the outcome.
func (h *handle) supervise(deadline <-chan time.Time) {
	defer close(h.done)
	exited := make(chan error, 1)
	go func() { exited <- waitExited(h.pid) }()

	var cause *stopCause
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-deadline:
		cause = &stopCause{launch.OutcomeTimedOut, fmt.Sprintf("timed out after %s", h.timeout)}
	case <-h.cancelReq:
		msg := "cancelled"
		if h.cancelReason != "" {
			msg += ": " + h.cancelReason
		}
		cause = &stopCause{launch.OutcomeCancelled, msg}
	}
	if cause != nil {
		exitErr = h.stop(cause.message, exited)
	}

	// The leader has exited but is not reaped, so its group id is still
	// reserved: kill and reap the rest of the group before cmd.Wait reaps it.
	running, stuck, err := reapGroup(h.pid)
	if err != nil {
		h.logger.WarnContext(h.logCtx, "process group not cleared",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
	}
	if cause == nil && running > 0 {
		n := "1 process"
		if running > 1 {
			n = strconv.Itoa(running) + " processes"
		}
		h.system(fmt.Sprintf("main process exited; killed %s it left running in process group %d", n, h.pid))
	}
	if stuck > 0 {
		h.logger.WarnContext(h.logCtx, "processes of the run outlived it",
			append(h.logAttrs(), slog.Int("count", stuck))...)
	}

	// cmd.Wait reaps the leader and waits until both pipes are drained.
	waitErr := h.cmd.Wait()
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		h.system(fmt.Sprintf("output still open %s after process group %d ended; "+
			"a process outside the group holds it and is no longer read", escapedOutputWait, h.pid))
	}
	h.stdout.Close()
	h.stderr.Close()

	h.outcome = h.outcomeOf(cause, exitErr, waitErr)
	h.logger.DebugContext(h.logCtx, "process ended", append(h.logAttrs(),
		slog.String("outcome", h.outcome.Kind.String()),
		slog.Int("exit_code", int(h.outcome.ExitCode)))...)
}

// stop sends SIGTERM to the group, then SIGKILL if the main process has not
// exited within the grace period. It returns once the main process has
// exited, with the error from waiting for it.
func (h *handle) stop(reason string, exited <-chan error) error {
	if err := signalGroup(h.pid, unix.SIGTERM); err != nil {
		h.logger.WarnContext(h.logCtx, "stop signal not sent",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
	}
	// The grace timer starts before stopping is closed so that a caller
	// returning from Cancel can rely on it.
	graceOver := h.clk.After(h.grace)
	h.system(fmt.Sprintf("%s: sent SIGTERM to process group %d; SIGKILL follows in %s", reason, h.pid, h.grace))
	close(h.stopping)

	select {
	case err := <-exited:
		return err
	case <-graceOver:
	}
	h.system(fmt.Sprintf("process group %d still running %s after SIGTERM: sent SIGKILL", h.pid, h.grace))
	if err := signalGroup(h.pid, unix.SIGKILL); err != nil {
		h.logger.WarnContext(h.logCtx, "kill signal not sent",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
	}
	return <-exited
}

// outcomeOf maps how the main process ended, and why it was stopped if it
// was, to the run's outcome.
func (h *handle) outcomeOf(cause *stopCause, exitErr, waitErr error) launch.Outcome {
	state := h.cmd.ProcessState
	if exitErr != nil || state == nil {
		err := exitErr
		if err == nil {
			err = waitErr
		}
		return launch.Outcome{
			ExitCode: launch.ExitCodeUnknown,
			Kind:     launch.OutcomeCrashed,
			Message:  fmt.Sprintf("lost track of process %d: %v", h.pid, err),
		}
	}

	code, how := exitStatus(state)
	switch {
	case cause != nil:
		return launch.Outcome{ExitCode: code, Kind: cause.kind, Message: cause.message}
	case state.Success():
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeSucceeded, Message: how}
	default:
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: how}
	}
}

// exitStatus returns the exit code of a finished process, 128+N when killed
// by signal N, and a description such as "exited with code 3".
func exitStatus(state *os.ProcessState) (int32, string) {
	ws, ok := state.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		sig := ws.Signal()
		name := unix.SignalName(sig)
		if name == "" {
			name = "signal " + strconv.Itoa(int(sig))
		}
		return 128 + int32(sig), "killed by signal " + name
	}
	code := int32(state.ExitCode())
	return code, fmt.Sprintf("exited with code %d", code)
}

// system delivers one of the agent's own messages about the run.
func (h *handle) system(text string) {
	h.sink.Line(launch.LogLine{Stream: launch.StreamSystem, Text: text, Time: h.clk.Now()})
}

// logAttrs returns the attributes that identify the run in the agent's log.
func (h *handle) logAttrs() []any {
	return []any{
		slog.String("run_id", h.runID),
		slog.Int("attempt", int(h.attempt)),
		slog.Int("pid", h.pid),
	}
}
