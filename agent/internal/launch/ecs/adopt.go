package ecs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// Survivors lists the cluster's tasks that this agent started, running or
// recently stopped, found by their startedBy prefix and tags; see
// [launch.Adopter].
func (l *Launcher) Survivors(ctx context.Context) ([]launch.Survivor, error) {
	arns, err := l.listTasks(ctx, "")
	if err != nil {
		return nil, err
	}
	tasks, _, err := l.describe(ctx, arns, true)
	if err != nil {
		return nil, err
	}
	var out []launch.Survivor
	for _, t := range tasks {
		tags := tagMap(t.Tags)
		if !strings.HasPrefix(aws.ToString(t.StartedBy), startedByPrefix) || tags[tagAgent] != l.cfg.AgentName ||
			tags[tagRunID] == "" {
			continue
		}
		s, err := survivor(tags)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", aws.ToString(t.TaskArn), err)
		}
		s.InfrastructureID = aws.ToString(t.TaskArn)
		// The job's timeout runs from RunTask, which is the task's creation.
		s.StartedAt = aws.ToTime(t.CreatedAt)
		s.Ended = aws.ToString(t.LastStatus) == "STOPPED"
		if s.Ended {
			l.stoppedSeen.Store(s.InfrastructureID, struct{}{})
		}
		out = append(out, s)
	}
	return out, nil
}

func survivor(tags map[string]string) (launch.Survivor, error) {
	attempt, err := strconv.ParseInt(tags[tagAttempt], 10, 32)
	if err != nil {
		return launch.Survivor{}, fmt.Errorf("tag %s: %w", tagAttempt, err)
	}
	lease, err := strconv.ParseInt(tags[tagLeaseToken], 10, 64)
	if err != nil {
		return launch.Survivor{}, fmt.Errorf("tag %s: %w", tagLeaseToken, err)
	}
	timeout, err := time.ParseDuration(tags[tagTimeout])
	if err != nil {
		return launch.Survivor{}, fmt.Errorf("tag %s: %w", tagTimeout, err)
	}
	grace, err := time.ParseDuration(tags[tagStopGrace])
	if err != nil {
		return launch.Survivor{}, fmt.Errorf("tag %s: %w", tagStopGrace, err)
	}
	return launch.Survivor{
		RunID: tags[tagRunID], Attempt: int32(attempt), LeaseToken: lease, Timeout: timeout, StopGrace: grace,
	}, nil
}

// Adopt returns a Handle to a task found by Survivors. Its log is read again
// from the start of the stream and the first s.SkipLines events skipped; see
// [launch.Adopter].
func (l *Launcher) Adopt(ctx context.Context, s launch.Survivor, sink launch.LogSink) (launch.Handle, error) {
	if s.InfrastructureID == "" {
		return nil, fmt.Errorf("adopt run %s: no task ARN", s.RunID)
	}
	h := l.newHandle(s.InfrastructureID, s.RunID, s.Attempt, s.Timeout, s.StopGrace, sink, s.SkipLines)
	var deadline <-chan time.Time
	if s.Timeout > 0 {
		deadline = time.After(max(time.Until(s.StartedAt.Add(s.Timeout)), 0))
	}
	l.logger.InfoContext(ctx, "ecs: task adopted", h.logAttrs()...)
	h.begin(deadline)
	return h, nil
}
