package ecs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// maxStopReason is the longest reason StopTask accepts.
const maxStopReason = 255

// Remove stops a task this agent started whose run the control plane no
// longer leases to it, such as one cancelled or crashed while the agent was
// down. The task is read again first, in the cluster [Launcher.Survivors]
// found it in (else the agent's cluster, or the one of [Config.OtherClusters]
// its ARN names), and stopped only when it is there, was started by Ferry
// (startedBy and the run tags) and by this agent; a task of anyone else is refused with an error. A task
// already stopped or no longer known to ECS is not an error. The stop reason
// names the run and attempt.
func (l *Launcher) Remove(ctx context.Context, taskARN string) error {
	if _, ok := l.stoppedSeen.Load(taskARN); ok {
		// A stopped task stays stopped; after a restart most survivors
		// are, and each would otherwise cost a DescribeTasks call.
		return nil
	}
	callCtx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	cluster := l.clusterOf(taskARN)
	tasks, missing, err := l.describeIn(callCtx, cluster, []string{taskARN}, true)
	if err != nil {
		return fmt.Errorf("stop task %s: %w", taskARN, err)
	}
	if len(missing) > 0 || len(tasks) == 0 {
		return nil
	}
	t := tasks[0]
	tags := tagMap(t.Tags)
	if !strings.HasPrefix(aws.ToString(t.StartedBy), startedByPrefix) || tags[tagRunID] == "" {
		return fmt.Errorf("stop task %s: it was not started by Ferry", taskARN)
	}
	if agent := tags[tagAgent]; agent != l.cfg.AgentName {
		return fmt.Errorf("stop task %s: it belongs to agent %q, not %q", taskARN, agent, l.cfg.AgentName)
	}
	if aws.ToString(t.LastStatus) == "STOPPED" || aws.ToString(t.DesiredStatus) == "STOPPED" {
		return nil
	}

	reason := fmt.Sprintf("Ferry run %s attempt %s has ended on the control plane; stopped by agent %s after a restart",
		tags[tagRunID], tags[tagAttempt], l.cfg.AgentName)
	if len(reason) > maxStopReason {
		reason = reason[:maxStopReason]
	}
	_, err = l.ecs.StopTask(callCtx, &ecs.StopTaskInput{
		Cluster: aws.String(cluster), Task: aws.String(taskARN), Reason: aws.String(reason),
	})
	if err != nil {
		return fmt.Errorf("stop task %s of run %s: %w", taskARN, tags[tagRunID], awsError("StopTask", err))
	}
	l.logger.InfoContext(ctx, "ecs: task of an ended run stopped",
		slog.String("run_id", tags[tagRunID]), slog.String("attempt", tags[tagAttempt]),
		slog.String("task_arn", taskARN), slog.String("cluster", cluster), slog.String("reason", reason))
	return nil
}
