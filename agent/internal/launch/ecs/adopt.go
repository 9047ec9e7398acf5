package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// foundTask is where [Launcher.Survivors] found a task: what Adopt and
// Remove need to reach the task and its log.
type foundTask struct {
	cluster string
	taskDef string
	// container is the run's container from the task's tag; empty for a
	// task started before the launcher wrote that tag.
	container string
}

// Survivors lists the tasks that this agent started, running or recently
// stopped, found by their startedBy prefix and tags in the agent's cluster
// and each of [Config.OtherClusters]; see [launch.Adopter]. A cluster that
// cannot be listed is skipped with a warning unless none can be, so that
// one cluster denied to the agent does not keep it from the others.
func (l *Launcher) Survivors(ctx context.Context) ([]launch.Survivor, error) {
	var out []launch.Survivor
	var errs []error
	clusters := l.clusters()
	for _, cluster := range clusters {
		found, err := l.survivorsIn(ctx, cluster)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", cluster, err))
			continue
		}
		out = append(out, found...)
	}
	if len(errs) == len(clusters) {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		l.logger.WarnContext(ctx, "ecs: a cluster's tasks could not be listed; its tasks are not re-adopted",
			slog.String("error", err.Error()))
	}
	return out, nil
}

// survivorsIn is [Launcher.Survivors] in one cluster.
func (l *Launcher) survivorsIn(ctx context.Context, cluster string) ([]launch.Survivor, error) {
	arns, err := l.listTasksIn(ctx, cluster, "")
	if err != nil {
		return nil, err
	}
	tasks, _, err := l.describeIn(ctx, cluster, arns, true)
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
		l.found.Store(s.InfrastructureID, foundTask{
			cluster: cluster, taskDef: aws.ToString(t.TaskDefinitionArn), container: tags[tagContainer],
		})
		out = append(out, s)
	}
	return out, nil
}

// clusterOf returns the cluster of one of the agent's tasks: where
// Survivors found it, else the cluster its ARN names when that is one of
// the agent's, else the agent's own.
func (l *Launcher) clusterOf(taskARN string) string {
	if f, ok := l.found.Load(taskARN); ok {
		return f.(foundTask).cluster
	}
	// arn:aws:ecs:region:account:task/cluster/id
	if _, rest, ok := strings.Cut(taskARN, ":task/"); ok {
		if name, _, ok := strings.Cut(rest, "/"); ok && l.knownCluster(name) {
			return name
		}
	}
	return l.cfg.Task.Cluster
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

// Adopt returns a Handle to a task found by Survivors. The task is watched
// in the cluster it was found in, and its log is read from where its task
// definition sends the run's container's output (job variables may have
// chosen another log group, stream prefix or container than the agent's),
// again from the start of the stream with the first s.SkipLines events
// skipped; see [launch.Adopter].
func (l *Launcher) Adopt(ctx context.Context, s launch.Survivor, sink launch.LogSink) (launch.Handle, error) {
	if s.InfrastructureID == "" {
		return nil, fmt.Errorf("adopt run %s: no task ARN", s.RunID)
	}
	h := l.newHandle(s.InfrastructureID, s.RunID, s.Attempt, s.Timeout, s.StopGrace, sink, s.SkipLines)
	if f, ok := l.found.Load(s.InfrastructureID); ok {
		h.task = l.adoptedTaskConfig(ctx, h, f.(foundTask))
	}
	var deadline <-chan time.Time
	if s.Timeout > 0 {
		deadline = time.After(max(time.Until(s.StartedAt.Add(s.Timeout)), 0))
	}
	l.logger.InfoContext(ctx, "ecs: task adopted", append(h.logAttrs(), slog.String("cluster", h.task.Cluster),
		slog.String("log_group", h.task.LogGroup), slog.String("log_stream", h.logStream()))...)
	h.begin(deadline)
	return h, nil
}

// adoptedTaskConfig returns the task settings of a task found in f: the
// agent's, with the cluster it was found in, its container, and the log
// group and stream prefix of that container in its task definition. When
// the task definition cannot be read, the agent's log settings are kept and
// the run's log says so.
func (l *Launcher) adoptedTaskConfig(ctx context.Context, h *handle, f foundTask) TaskConfig {
	tc := l.cfg.Task
	tc.Cluster = f.cluster
	if f.container != "" {
		tc.ContainerName = f.container
	}
	def, err := l.adoptDef(ctx, f.taskDef)
	if err != nil {
		l.logger.WarnContext(ctx, "ecs: task definition of an adopted task unreadable",
			append(h.logAttrs(), slog.String("error", err.Error()))...)
		h.system("reading the task definition %s failed (%s); reading the log from group %s",
			f.taskDef, err, tc.LogGroup)
		return tc
	}
	for _, c := range def.ContainerDefinitions {
		lc := c.LogConfiguration
		if aws.ToString(c.Name) != tc.EffectiveContainerName() || lc == nil || lc.LogDriver != types.LogDriverAwslogs {
			continue
		}
		if g := lc.Options["awslogs-group"]; g != "" {
			tc.LogGroup = g
		}
		if p := lc.Options["awslogs-stream-prefix"]; p != "" {
			tc.StreamPrefix = p
		}
	}
	return tc
}

// adoptDef reads a task definition for Adopt, once per ARN.
func (l *Launcher) adoptDef(ctx context.Context, arn string) (*types.TaskDefinition, error) {
	if d, ok := l.adoptDefs.Load(arn); ok {
		return d.(*types.TaskDefinition), nil
	}
	callCtx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	out, err := l.ecs.DescribeTaskDefinition(callCtx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return nil, awsError("DescribeTaskDefinition", err)
	}
	if out.TaskDefinition == nil {
		return nil, fmt.Errorf("ECS DescribeTaskDefinition: no task definition %s", arn)
	}
	l.adoptDefs.Store(arn, out.TaskDefinition)
	return out.TaskDefinition, nil
}
