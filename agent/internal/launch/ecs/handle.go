package ecs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

const (
	// stopSlack is how long, beyond the stop grace, a stopped task may take
	// to be reported STOPPED before the run is ended without that report.
	stopSlack = 2 * time.Minute
	// stopTries bounds the StopTask calls of one stop.
	stopTries = 3
)

// taskEnd is how watching a task ended: with the stopped task, or lost.
type taskEnd struct {
	task types.Task
	lost bool
}

// stopCause is why the agent stopped a run.
type stopCause struct {
	kind    launch.OutcomeKind
	message string
}

// handle is the [launch.Handle] of one task.
type handle struct {
	l       *Launcher
	arn     string
	runID   string
	attempt int32
	timeout time.Duration
	grace   time.Duration
	sink    launch.LogSink
	skip    int64
	// task is the run's task settings: the job's for a started one; for an
	// adopted one, the agent's with the cluster, container and log settings
	// the task was found with. It is set before begin.
	task TaskConfig

	ended   chan taskEnd // receives once, from the poller
	missing int          // polls in a row that reported the task missing; guarded by l.mu

	cancelOnce   sync.Once
	cancelReq    chan struct{} // closed by Cancel
	cancelReason string        // set before cancelReq is closed
	stopOnce     sync.Once
	stopping     chan struct{} // closed once StopTask has been called
	done         chan struct{} // closed once outcome is set
	outcome      launch.Outcome
}

func (l *Launcher) newHandle(
	arn, runID string,
	attempt int32,
	timeout, grace time.Duration,
	sink launch.LogSink,
	skip int64,
) *handle {
	return &handle{
		l: l, arn: arn, runID: runID, attempt: attempt, timeout: timeout, grace: grace, sink: sink, skip: skip,
		task:      l.cfg.Task,
		ended:     make(chan taskEnd, 1),
		cancelReq: make(chan struct{}),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// InfrastructureID returns the task ARN.
func (h *handle) InfrastructureID() string { return h.arn }

// Wait blocks until the run has ended and returns its outcome; see
// [launch.Handle].
func (h *handle) Wait(ctx context.Context) (launch.Outcome, error) {
	select {
	case <-h.done:
		return h.outcome, nil
	case <-ctx.Done():
		return launch.Outcome{}, fmt.Errorf("wait for task %s: %w", h.arn, context.Cause(ctx))
	}
}

// Cancel asks ECS to stop the task and returns once StopTask has been
// called; see [launch.Handle].
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
		return fmt.Errorf("cancel task %s: %w", h.arn, context.Cause(ctx))
	}
}

func (h *handle) logAttrs() []any {
	return []any{slog.String("run_id", h.runID), slog.Int("attempt", int(h.attempt)), slog.String("task_arn", h.arn)}
}

func (h *handle) system(format string, args ...any) {
	h.sink.Line(launch.LogLine{Stream: launch.StreamSystem, Text: fmt.Sprintf(format, args...), Time: time.Now()})
}

// begin starts following the task's log and supervising it.
func (h *handle) begin(deadline <-chan time.Time) {
	finished := make(chan struct{})
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		h.followLogs(finished)
	}()
	h.l.watch(h)
	go func() {
		defer close(h.done)
		h.supervise(deadline, finished, logsDone)
	}()
}

func (h *handle) supervise(deadline <-chan time.Time, finished chan<- struct{}, logsDone <-chan struct{}) {
	var cause *stopCause
	var end taskEnd
	select {
	case end = <-h.ended:
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
		end = h.stop(cause)
	}
	h.markStopping()

	close(finished)
	<-logsDone
	h.outcome = h.decide(cause, end)
	h.l.logger.InfoContext(context.Background(), "ecs: task ended", append(h.logAttrs(),
		slog.String("outcome", h.outcome.Kind.String()), slog.String("message", h.outcome.Message))...)
}

// stop calls StopTask and waits for the poller to report the task stopped.
func (h *handle) stop(cause *stopCause) taskEnd {
	ctx := context.Background()
	h.system("stopping task: %s", cause.message)
	reason := cause.message
	if len(reason) > 255 {
		reason = reason[:255]
	}
	for try := range stopTries {
		callCtx, cancel := context.WithTimeout(ctx, h.l.cfg.CallTimeout)
		_, err := h.l.ecs.StopTask(callCtx, &ecs.StopTaskInput{
			Cluster: aws.String(h.task.Cluster), Task: aws.String(h.arn), Reason: aws.String(reason),
		})
		cancel()
		if err == nil {
			break
		}
		h.l.logger.WarnContext(ctx, "ecs: StopTask failed", append(h.logAttrs(),
			slog.Int("try", try+1), slog.String("error", awsError("StopTask", err).Error()))...)
	}
	h.markStopping()

	t := time.NewTimer(h.grace + stopSlack)
	defer t.Stop()
	select {
	case end := <-h.ended:
		return end
	case <-t.C:
		h.l.unwatch(h.arn)
		h.system("ECS did not report the task stopped within %s", h.grace+stopSlack)
		return taskEnd{lost: true}
	}
}

func (h *handle) markStopping() { h.stopOnce.Do(func() { close(h.stopping) }) }

// decide returns the outcome of a run that was stopped by cause (nil when it
// ended on its own) and whose watch ended with end.
func (h *handle) decide(cause *stopCause, end taskEnd) launch.Outcome {
	if cause == nil {
		if end.lost {
			return launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed,
				Message: "task lost: ECS no longer reports it"}
		}
		return outcomeOf(end.task, h.task.EffectiveContainerName())
	}
	if !end.lost && end.task.StopCode != types.TaskStopCodeUserInitiated {
		// The task ended on its own before the stop reached it.
		return outcomeOf(end.task, h.task.EffectiveContainerName())
	}
	code := launch.ExitCodeUnknown
	if c := essential(end.task, h.task.EffectiveContainerName()); c != nil && c.ExitCode != nil {
		code = *c.ExitCode
	}
	return launch.Outcome{ExitCode: code, Kind: cause.kind, Message: cause.message}
}

// essential returns the run's container of t: the one named name, or the
// first.
func essential(t types.Task, name string) *types.Container {
	for i := range t.Containers {
		if aws.ToString(t.Containers[i].Name) == name {
			return &t.Containers[i]
		}
	}
	if len(t.Containers) > 0 {
		return &t.Containers[0]
	}
	return nil
}

// outcomeOf maps a stopped task to the outcome of its run.
func outcomeOf(t types.Task, container string) launch.Outcome {
	stopped := aws.ToString(t.StoppedReason)
	var reason string
	var exit *int32
	if c := essential(t, container); c != nil {
		reason, exit = aws.ToString(c.Reason), c.ExitCode
	}
	code := launch.ExitCodeUnknown
	if exit != nil {
		code = *exit
	}
	switch {
	case strings.Contains(reason, "CannotPullContainerError") || strings.Contains(stopped, "CannotPullContainerError"):
		msg := reason
		if !strings.Contains(msg, "CannotPullContainerError") {
			msg = stopped
		}
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: "image pull failed: " + msg}
	case t.StopCode == types.TaskStopCodeSpotInterruption || t.StopCode == types.TaskStopCodeTerminationNotice ||
		strings.Contains(stopped, "Capacity is unavailable"):
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeCrashed,
			Message: "ECS stopped the task: " + stopped}
	case strings.HasPrefix(reason, "OutOfMemoryError"):
		msg := "out of memory: " + reason
		if mem := aws.ToString(t.Memory); mem != "" {
			msg = "out of memory: the task's limit is " + mem + " MiB: " + reason
		}
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: msg}
	case exit != nil && *exit == 0:
		return launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}
	case exit != nil:
		msg := fmt.Sprintf("exited with code %d", *exit)
		if reason != "" {
			msg += ": " + reason
		}
		return launch.Outcome{ExitCode: code, Kind: launch.OutcomeFailed, Message: msg}
	}
	msg := "task stopped without an exit code"
	if stopped != "" {
		msg += ": " + stopped
	}
	return launch.Outcome{ExitCode: code, Kind: launch.OutcomeCrashed, Message: msg}
}
