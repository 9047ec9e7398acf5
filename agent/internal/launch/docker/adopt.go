package docker

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// Survivors lists the containers this agent created, in any state, ordered by
// run id and attempt; see [launch.Adopter]. A container whose ferry.* labels
// cannot be read is left out and logged.
func (l *Launcher) Survivors(ctx context.Context) ([]launch.Survivor, error) {
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	list, err := l.cli.ContainerList(callCtx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", labelAgent+"="+l.agent)),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of agent %s: %w", l.agent, err)
	}

	var out []launch.Survivor
	for _, c := range list {
		info, err := l.cli.ContainerInspect(callCtx, c.ID)
		if err != nil {
			// Removed since it was listed, or the engine is failing: either way
			// the caller learns nothing by adopting it now.
			l.logger.WarnContext(ctx, "container not inspected", slog.String("container_id", c.ID),
				slog.String("error", err.Error()))
			continue
		}
		s, err := survivorOf(info)
		if err != nil {
			l.logger.WarnContext(ctx, "container labels unreadable", slog.String("container_id", c.ID),
				slog.String("error", err.Error()))
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b launch.Survivor) int {
		return cmp.Or(cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.Attempt, b.Attempt))
	})
	return out, nil
}

// Adopt returns a Handle to a container found by [Launcher.Survivors]: its
// output after the first s.SkipLines lines is delivered to sink, and Wait
// reports its outcome once it has exited (at once if it already had). A
// container that was created but never started (the agent stopped while
// starting it) is reported as OutcomeCrashed. It returns an error if the
// container no longer exists or does not belong to this agent's attempt s.
func (l *Launcher) Adopt(ctx context.Context, s launch.Survivor, sink launch.LogSink) (launch.Handle, error) {
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	info, err := l.cli.ContainerInspect(callCtx, s.InfrastructureID)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("adopt container %s: %w", shortID(s.InfrastructureID), err)
	}
	found, err := survivorOf(info)
	if err != nil {
		return nil, fmt.Errorf("adopt container %s: %w", shortID(s.InfrastructureID), err)
	}
	labels := labelsOf(info)
	if labels[labelAgent] != l.agent || found.RunID != s.RunID || found.Attempt != s.Attempt {
		return nil, fmt.Errorf("adopt container %s: it holds attempt %d of run %s of agent %q, not attempt %d of run %s of agent %q",
			shortID(s.InfrastructureID), found.Attempt, found.RunID, labels[labelAgent], s.Attempt, s.RunID, l.agent)
	}
	keep, _ := strconv.ParseBool(labels[labelKeep])
	h := l.newHandle(ctx, info.ID, found.RunID, found.Attempt, found.Timeout, found.StopGrace, keep, sink)

	if info.State.Status == "created" {
		go h.abandonUnstarted()
		return h, nil
	}
	waitCtx, stopWait := context.WithCancel(context.Background())
	waitC, errC := l.cli.ContainerWait(waitCtx, info.ID, container.WaitConditionNotRunning)
	var deadline <-chan time.Time
	if found.Timeout > 0 && !found.Ended {
		deadline = l.clk.After(found.Timeout - l.clk.Now().Sub(found.StartedAt))
	}
	h.begin(waitCtx, stopWait, waitC, errC, deadline, s.SkipLines)
	l.logger.DebugContext(ctx, "container adopted", append(h.logAttrs(),
		slog.Bool("ended", found.Ended), slog.Int64("skip_lines", s.SkipLines))...)
	return h, nil
}

// abandonUnstarted ends the handle of a container that never started: there
// is nothing to wait for or read, only the container to remove.
func (h *handle) abandonUnstarted() {
	defer close(h.done)
	h.outcome = launch.Outcome{
		ExitCode: launch.ExitCodeUnknown,
		Kind:     launch.OutcomeCrashed,
		Message:  fmt.Sprintf("container %s was created but never started: the agent stopped while starting it", shortID(h.id)),
	}
	h.release(h.logCtx)
}

// survivorOf reads an attempt's facts back from its container's labels and
// state.
func survivorOf(info container.InspectResponse) (launch.Survivor, error) {
	if info.ContainerJSONBase == nil || info.State == nil {
		return launch.Survivor{}, fmt.Errorf("the engine returned no state")
	}
	labels := labelsOf(info)
	s := launch.Survivor{RunID: labels[labelRunID], InfrastructureID: info.ID}
	if s.RunID == "" {
		return launch.Survivor{}, fmt.Errorf("label %s is missing", labelRunID)
	}
	attempt, err := strconv.ParseInt(labels[labelAttempt], 10, 32)
	if err != nil {
		return launch.Survivor{}, fmt.Errorf("label %s: %w", labelAttempt, err)
	}
	s.Attempt = int32(attempt)
	if s.LeaseToken, err = strconv.ParseInt(labels[labelLeaseToken], 10, 64); err != nil {
		return launch.Survivor{}, fmt.Errorf("label %s: %w", labelLeaseToken, err)
	}
	if s.Timeout, err = millisLabel(labels, labelTimeout); err != nil {
		return launch.Survivor{}, err
	}
	if s.StopGrace, err = millisLabel(labels, labelStopGrace); err != nil {
		return launch.Survivor{}, err
	}
	if info.State.StartedAt != "" {
		started, err := time.Parse(time.RFC3339Nano, info.State.StartedAt)
		if err != nil {
			return launch.Survivor{}, fmt.Errorf("start time %q: %w", info.State.StartedAt, err)
		}
		if !started.IsZero() { // a container that never started reports year 1
			s.StartedAt = started
		}
	}
	switch info.State.Status {
	case "running", "paused", "restarting", "created":
		// A created container has not ended: it never began.
	default:
		s.Ended = true
	}
	return s, nil
}

// millisLabel reads a duration recorded in milliseconds.
func millisLabel(labels map[string]string, name string) (time.Duration, error) {
	ms, err := strconv.ParseInt(labels[name], 10, 64)
	if err != nil || ms < 0 {
		return 0, fmt.Errorf("label %s: %q is not a duration in milliseconds", name, labels[name])
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// labelsOf returns the labels of an inspected container.
func labelsOf(info container.InspectResponse) map[string]string {
	if info.Config == nil {
		return nil
	}
	return info.Config.Labels
}
