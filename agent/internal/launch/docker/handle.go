package docker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

const (
	// logDrainTimeout is how long the log stream may still run after the
	// container has exited. The engine ends it as soon as the log is read to
	// the end; this only guards against a stream that never ends.
	logDrainTimeout = 30 * time.Second
	// waitRetries and retryDelay govern how often a broken wait or log
	// stream is resumed before the run is given up as lost: enough to ride
	// out a dropped connection, not an engine that is gone.
	waitRetries = 3
	retryDelay  = time.Second
)

// handle is the [launch.Handle] of one container.
type handle struct {
	l       *Launcher
	id      string
	runID   string
	attempt int32
	timeout time.Duration
	grace   time.Duration
	keep    bool
	sink    launch.LogSink
	logCtx  context.Context

	cancelOnce   sync.Once
	cancelReq    chan struct{} // closed by Cancel
	cancelReason string        // set before cancelReq is closed
	stopping     chan struct{} // closed once the stop has been asked for
	done         chan struct{} // closed once outcome is set
	outcome      launch.Outcome
}

// exitResult is how waiting for a container's exit ended: with its exit code,
// or with the error that lost track of it.
type exitResult struct {
	code int64
	err  error
}

// stopCause is why the agent stopped a run.
type stopCause struct {
	kind    launch.OutcomeKind
	message string
}

func (l *Launcher) newHandle(
	ctx context.Context,
	id, runID string,
	attempt int32,
	timeout, grace time.Duration,
	keep bool,
	sink launch.LogSink,
) *handle {
	return &handle{
		l:         l,
		id:        id,
		runID:     runID,
		attempt:   attempt,
		timeout:   timeout,
		grace:     grace,
		keep:      keep,
		sink:      sink,
		logCtx:    context.WithoutCancel(ctx),
		cancelReq: make(chan struct{}),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// InfrastructureID returns the container id.
func (h *handle) InfrastructureID() string { return h.id }

// Wait blocks until the run has ended and returns its outcome; see
// [launch.Handle].
func (h *handle) Wait(ctx context.Context) (launch.Outcome, error) {
	select {
	case <-h.done:
		return h.outcome, nil
	case <-ctx.Done():
		return launch.Outcome{}, fmt.Errorf("wait for container %s: %w", shortID(h.id), context.Cause(ctx))
	}
}

// Cancel asks the engine to stop the container and returns once the stop has
// been asked for; see [launch.Handle].
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
		return fmt.Errorf("cancel container %s: %w", shortID(h.id), context.Cause(ctx))
	}
}

// begin starts following the container's log (skipping the first skip output
// lines) and supervising it. waitCtx carries the engine wait whose channels
// are waitC and errC; stopWait ends it.
func (h *handle) begin(
	waitCtx context.Context,
	stopWait context.CancelFunc,
	waitC <-chan container.WaitResponse,
	errC <-chan error,
	deadline <-chan time.Time,
	skip int64,
) {
	exits := make(chan exitResult, 1)
	go func() { exits <- h.watch(waitCtx, waitC, errC) }()

	logCtx, stopLogs := context.WithCancel(context.Background())
	logsDone := make(chan struct{})
	f := &logFollower{h: h, seen: skip}
	go func() {
		defer close(logsDone)
		f.follow(logCtx)
	}()

	go func() {
		defer close(h.done)
		defer stopLogs()
		defer stopWait()
		h.supervise(exits, deadline, logsDone, stopLogs)
	}()
}

// watch waits for the container to stop running and returns its exit code.
// A broken wait is resumed while the engine still answers and the container
// still runs.
func (h *handle) watch(ctx context.Context, waitC <-chan container.WaitResponse, errC <-chan error) exitResult {
	for retry := 0; ; retry++ {
		var err error
		select {
		case res := <-waitC:
			return exitResult{code: res.StatusCode}
		case err = <-errC:
		}
		if ctx.Err() != nil {
			return exitResult{err: err}
		}
		state, inspectErr := h.inspectState(ctx)
		switch {
		case inspectErr != nil:
			return exitResult{err: fmt.Errorf("%w; then %w", err, inspectErr)}
		case !state.Running:
			return exitResult{code: int64(state.ExitCode)}
		case retry == waitRetries:
			return exitResult{err: err}
		}
		h.l.logger.WarnContext(h.logCtx, "container wait broke; resuming",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
		select {
		case <-ctx.Done():
			return exitResult{err: err}
		case <-time.After(retryDelay):
		}
		waitC, errC = h.l.cli.ContainerWait(ctx, h.id, container.WaitConditionNotRunning)
	}
}

// supervise waits for the container to exit, the deadline or a cancel, stops
// the container if needed, lets the log drain, records the outcome and
// removes the container.
func (h *handle) supervise(
	exits <-chan exitResult,
	deadline <-chan time.Time,
	logsDone <-chan struct{},
	stopLogs context.CancelFunc,
) {
	var cause *stopCause
	var exit exitResult
	select {
	case exit = <-exits:
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
		h.stop(cause.message)
		exit = <-exits
	}

	select {
	case <-logsDone:
	case <-time.After(logDrainTimeout):
		stopLogs()
		<-logsDone
		h.system(fmt.Sprintf("the engine's log of container %s did not end %s after it exited; "+
			"later output is not captured", shortID(h.id), logDrainTimeout))
	}

	ctx, cancel := context.WithTimeout(h.logCtx, callTimeout)
	info, inspectErr := h.l.cli.ContainerInspect(ctx, h.id)
	cancel()
	h.outcome = outcomeOf(h.id, cause, exit, info, inspectErr)
	h.release(h.logCtx)
	h.l.logger.DebugContext(h.logCtx, "container ended", append(h.logAttrs(),
		slog.String("outcome", h.outcome.Kind.String()),
		slog.Int("exit_code", int(h.outcome.ExitCode)))...)
}

// stop asks the engine to stop the container: its stop signal now, SIGKILL
// once the grace has elapsed. It returns when the engine has stopped it, or
// has failed to.
func (h *handle) stop(reason string) {
	seconds := graceInSeconds(h.grace)
	h.system(fmt.Sprintf("%s: stopping container %s: stop signal now, SIGKILL in %ds if still running",
		reason, shortID(h.id), seconds))
	close(h.stopping)

	ctx, cancel := context.WithTimeout(h.logCtx, time.Duration(seconds)*time.Second+callTimeout)
	defer cancel()
	err := h.l.cli.ContainerStop(ctx, h.id, container.StopOptions{Timeout: &seconds})
	if err == nil || cerrdefs.IsNotFound(err) {
		return
	}
	h.l.logger.WarnContext(h.logCtx, "container stop failed; killing it",
		append(h.logAttrs(), slog.String("error", err.Error()))...)
	killCtx, cancelKill := context.WithTimeout(h.logCtx, callTimeout)
	defer cancelKill()
	if err := h.l.cli.ContainerKill(killCtx, h.id, "SIGKILL"); err != nil {
		h.l.logger.WarnContext(h.logCtx, "container kill failed",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
	}
}

// release removes the container unless the job keeps it. A failure is
// logged: the run's outcome stands, and [Launcher.Survivors] will list the
// container again.
func (h *handle) release(ctx context.Context) {
	if h.keep {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := h.l.cli.ContainerRemove(ctx, h.id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		h.l.logger.WarnContext(ctx, "container not removed",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
	}
}

// inspectState returns the container's state.
func (h *handle) inspectState(ctx context.Context) (*container.State, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := h.l.cli.ContainerInspect(ctx, h.id)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", shortID(h.id), err)
	}
	if info.ContainerJSONBase == nil || info.State == nil {
		return nil, fmt.Errorf("inspect container %s: the engine returned no state", shortID(h.id))
	}
	return info.State, nil
}

// system delivers one of the agent's own messages about the run.
func (h *handle) system(text string) {
	h.sink.Line(launch.LogLine{Stream: launch.StreamSystem, Text: text, Time: h.l.clk.Now()})
}

// logAttrs returns the attributes that identify the run in the agent's log.
func (h *handle) logAttrs() []any {
	return []any{
		slog.String("run_id", h.runID),
		slog.Int("attempt", int(h.attempt)),
		slog.String("container_id", h.id),
	}
}

// outcomeOf maps how the container ended, and why it was stopped if it was,
// to the run's outcome. info is the container as inspected after its exit;
// inspectErr says why it could not be.
func outcomeOf(
	id string,
	cause *stopCause,
	exit exitResult,
	info container.InspectResponse,
	inspectErr error,
) launch.Outcome {
	if exit.err != nil {
		return launch.Outcome{
			ExitCode: launch.ExitCodeUnknown,
			Kind:     launch.OutcomeCrashed,
			Message:  fmt.Sprintf("lost track of container %s: %v", shortID(id), exit.err),
		}
	}
	code := int32(exit.code)
	var oomKilled bool
	var memoryLimit int64
	if inspectErr == nil && info.ContainerJSONBase != nil {
		if info.State != nil {
			oomKilled = info.State.OOMKilled
		}
		if info.HostConfig != nil {
			memoryLimit = info.HostConfig.Memory
		}
	}
	switch {
	case cause != nil:
		return launch.Outcome{ExitCode: code, Kind: cause.kind, Message: cause.message}
	case oomKilled:
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: oomMessage(memoryLimit)}
	case code == 0:
		return launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}
	}
	return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: fmt.Sprintf("exited with code %d", code)}
}

// oomMessage explains a container killed for lack of memory.
func oomMessage(limit int64) string {
	if limit <= 0 {
		return "out of memory: the container was killed by the kernel's out-of-memory killer"
	}
	return "out of memory: the container exceeded its memory limit of " + formatBytes(limit)
}

// formatBytes writes a byte count the way limits are usually given: in the
// largest binary unit that divides it exactly, such as "64 MiB".
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
