package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/ecstask"
)

// Tags the launcher writes on every task, read back by [Launcher.Survivors].
const (
	tagRunID      = "ferry:run-id"
	tagAttempt    = "ferry:attempt"
	tagAgent      = "ferry:agent"
	tagLeaseToken = "ferry:lease-token"
	tagTimeout    = "ferry:timeout"
	tagStopGrace  = "ferry:stop-grace"
	// tagContainer names the run's container, which job variables may
	// choose, so that an adopted task's log stream and exit code are read
	// from the right container.
	tagContainer = "ferry:container"
)

var reservedTags = []string{tagRunID, tagAttempt, tagAgent, tagLeaseToken, tagTimeout, tagStopGrace, tagContainer}

// startedByPrefix starts the startedBy of every task the launcher runs.
const startedByPrefix = "ferry-"

// runTaskTries bounds the RunTask calls of one start, each followed, when it
// fails without an answer, by a search for the task it may have created.
const runTaskTries = 3

// Launcher runs jobs as ECS tasks. It implements [launch.Launcher] and
// [launch.Adopter], and is safe for concurrent use.
type Launcher struct {
	cfg    Config
	ecs    *ecs.Client
	cwl    *cloudwatchlogs.Client
	logger *slog.Logger

	regMu    sync.Mutex
	families map[string]string // family -> task definition ARN

	mu      sync.Mutex
	watched map[string]*handle // by task ARN
	polling bool

	// stoppedSeen holds the ARNs of this agent's tasks that Survivors found
	// stopped, which Remove need not read again.
	stoppedSeen sync.Map
	// found maps the ARN of each task Survivors returned to a [foundTask].
	found sync.Map
	// adoptDefs caches the task definitions read by Adopt, by ARN.
	adoptDefs sync.Map
}

var (
	_ launch.Launcher = (*Launcher)(nil)
	_ launch.Adopter  = (*Launcher)(nil)
)

// New returns a Launcher for cfg. It fails when cfg.Task is not valid, with
// a [*FieldError] naming the template field.
func New(cfg Config) (*Launcher, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = cfg.MaxAttempts
			o.MaxBackoff = cfg.MaxBackoff
		})
	}
	return &Launcher{
		cfg:      cfg,
		ecs:      ecs.NewFromConfig(cfg.AWS, func(o *ecs.Options) { o.Retryer = retryer() }),
		cwl:      cloudwatchlogs.NewFromConfig(cfg.AWS, func(o *cloudwatchlogs.Options) { o.Retryer = retryer() }),
		logger:   cfg.Logger,
		families: map[string]string{},
		watched:  map[string]*handle{},
	}, nil
}

// Start registers the job's task definition if needed, runs the task and
// returns a Handle to it; see [launch.Launcher].
func (l *Launcher) Start(ctx context.Context, job launch.Job, sink launch.LogSink) (launch.Handle, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	tc, err := l.taskConfig(job)
	if err != nil {
		return nil, err
	}
	p, err := l.planJob(job, tc)
	if err != nil {
		return nil, err
	}

	taskDef := tc.TaskDefinition
	if p.register != nil {
		taskDef, err = l.taskDefinition(ctx, p)
		if err != nil {
			return nil, err
		}
	}
	task, err := l.runTask(ctx, job, tc, taskDef, p)
	if err != nil {
		if p.register != nil {
			// The task definition may have been deregistered behind the
			// launcher's back; look it up again next time.
			l.forget(p.family)
		}
		return nil, err
	}

	h := l.newHandle(aws.ToString(task.TaskArn), job.RunID, job.Attempt, job.Timeout,
		job.EffectiveStopGrace(), sink, 0)
	h.task = tc
	l.logger.InfoContext(ctx, "ecs: task started", h.logAttrs()...)
	var deadline <-chan time.Time
	if job.Timeout > 0 {
		deadline = time.After(job.Timeout)
	}
	h.begin(deadline)
	return h, nil
}

// taskConfig returns the task settings of job: the job's ecs variables laid
// over the agent's [Config.Task], checked as a whole. Its errors wrap
// [launch.ErrInvalidJob] and a [*FieldError] naming the variable, so the
// run fails with the field named and nothing is called.
func (l *Launcher) taskConfig(job launch.Job) (TaskConfig, error) {
	vars, err := ecstask.ParseVars(job.Variables)
	if err != nil {
		return TaskConfig{}, fmt.Errorf("%w: %w", launch.ErrInvalidJob, err)
	}
	if err := vars.Check(); err != nil {
		return TaskConfig{}, fmt.Errorf("%w: %w", launch.ErrInvalidJob, err)
	}
	tc := vars.Over(l.cfg.Task)
	if err := tc.Validate(); err != nil {
		return TaskConfig{}, fmt.Errorf("%w: %w", launch.ErrInvalidJob, err)
	}
	if !l.knownCluster(tc.Cluster) {
		// A task in a cluster the agent does not list could not be found
		// again after a restart, so it is never started.
		err := &FieldError{Field: "cluster", Reason: fmt.Sprintf(
			"%q is neither the agent's cluster nor one of its other_clusters", tc.Cluster)}
		return TaskConfig{}, fmt.Errorf("%w: %w", launch.ErrInvalidJob, err)
	}
	return tc, nil
}

// clusters returns the clusters the agent's tasks may be in: its own
// first, then [Config.OtherClusters], each once.
func (l *Launcher) clusters() []string {
	out := []string{l.cfg.Task.Cluster}
	seen := map[string]bool{ecstask.ClusterName(l.cfg.Task.Cluster): true}
	for _, c := range l.cfg.OtherClusters {
		if name := ecstask.ClusterName(c); !seen[name] {
			seen[name] = true
			out = append(out, c)
		}
	}
	return out
}

// knownCluster reports whether ref names one of [Launcher.clusters].
func (l *Launcher) knownCluster(ref string) bool {
	return slices.ContainsFunc(l.clusters(), func(c string) bool {
		return ecstask.ClusterName(c) == ecstask.ClusterName(ref)
	})
}

// taskDefinition returns the ARN of the task definition of p's family,
// registering it when ECS does not have it yet.
func (l *Launcher) taskDefinition(ctx context.Context, p plan) (string, error) {
	l.regMu.Lock()
	defer l.regMu.Unlock()
	if arn, ok := l.families[p.family]; ok {
		return arn, nil
	}

	callCtx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	out, err := l.ecs.DescribeTaskDefinition(callCtx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(p.family)})
	if err == nil && out.TaskDefinition != nil && out.TaskDefinition.Status == types.TaskDefinitionStatusActive {
		arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
		l.families[p.family] = arn
		return arn, nil
	}
	if err != nil && apiCode(err) != "ClientException" {
		return "", awsError("DescribeTaskDefinition", err)
	}

	reg, err := l.ecs.RegisterTaskDefinition(callCtx, p.register)
	if err != nil {
		return "", awsError("RegisterTaskDefinition", err)
	}
	arn := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	l.families[p.family] = arn
	l.logger.InfoContext(ctx, "ecs: task definition registered", slog.String("task_definition", arn))
	return arn, nil
}

func (l *Launcher) forget(family string) {
	l.regMu.Lock()
	defer l.regMu.Unlock()
	delete(l.families, family)
}

// runTask runs the job's task. A call that fails without an answer (a
// timeout, a dropped connection, a server error) may still have started the
// task, so the task is looked for by its startedBy and tags before RunTask is
// tried again; the client token makes a repeated RunTask return the task of
// the first rather than start another.
func (l *Launcher) runTask(
	ctx context.Context,
	job launch.Job,
	tc TaskConfig,
	taskDef string,
	p plan,
) (types.Task, error) {
	in := l.runTaskInput(job, tc, taskDef, p)
	var lastErr error
	for range runTaskTries {
		callCtx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
		out, err := l.ecs.RunTask(callCtx, in)
		cancel()
		if err == nil {
			if len(out.Failures) > 0 || len(out.Tasks) != 1 {
				return types.Task{}, fmt.Errorf("ECS RunTask placed no task: %s", failureText(out.Failures))
			}
			return out.Tasks[0], nil
		}
		if isClientFault(err) {
			return types.Task{}, awsError("RunTask", err)
		}
		lastErr = awsError("RunTask", err)
		l.logger.WarnContext(ctx, "ecs: RunTask got no answer; looking for its task",
			slog.String("run_id", job.RunID), slog.String("error", lastErr.Error()))

		findCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.CallTimeout)
		task, found, err := l.findTask(findCtx, tc.Cluster, job.RunID, job.Attempt)
		cancel()
		if err != nil {
			// Trying again is safe: the client token stops a second task.
			lastErr = fmt.Errorf("%w; then %w", lastErr, err)
			l.logger.WarnContext(ctx, "ecs: looking for the task failed",
				slog.String("run_id", job.RunID), slog.String("error", err.Error()))
		}
		if found {
			return task, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return types.Task{}, lastErr
}

func (l *Launcher) runTaskInput(job launch.Job, tc TaskConfig, taskDef string, p plan) *ecs.RunTaskInput {
	in := &ecs.RunTaskInput{
		Cluster:        aws.String(tc.Cluster),
		TaskDefinition: aws.String(taskDef),
		Count:          aws.Int32(1),
		ClientToken:    aws.String(clientToken(job.RunID, job.Attempt)),
		StartedBy:      aws.String(startedBy(job.RunID)),
		Overrides: &types.TaskOverride{
			ContainerOverrides: []types.ContainerOverride{{
				Name:        aws.String(tc.EffectiveContainerName()),
				Command:     p.command,
				Environment: p.env,
			}},
		},
	}
	if p.cpu != "" {
		in.Overrides.Cpu = aws.String(p.cpu)
		in.Overrides.Memory = aws.String(p.memory)
	}
	switch {
	case len(tc.CapacityProviders) > 0:
		for _, cp := range tc.CapacityProviders {
			in.CapacityProviderStrategy = append(in.CapacityProviderStrategy, types.CapacityProviderStrategyItem{
				CapacityProvider: aws.String(cp.Name), Weight: cp.Weight, Base: cp.Base,
			})
		}
	case tc.LaunchType == "":
		in.LaunchType = types.LaunchTypeFargate
	default:
		in.LaunchType = types.LaunchType(tc.LaunchType)
	}
	if tc.EffectiveNetworkMode() == ecstask.NetworkModeAwsvpc {
		public := types.AssignPublicIpDisabled
		if tc.AssignPublicIP {
			public = types.AssignPublicIpEnabled
		}
		in.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: tc.Subnets, SecurityGroups: tc.SecurityGroups, AssignPublicIp: public,
		}}
	}
	if tc.PlatformVersion != "" {
		in.PlatformVersion = aws.String(tc.PlatformVersion)
	}
	tags := map[string]string{
		tagRunID:      job.RunID,
		tagAttempt:    strconv.FormatInt(int64(job.Attempt), 10),
		tagAgent:      l.cfg.AgentName,
		tagLeaseToken: strconv.FormatInt(job.LeaseToken, 10),
		tagTimeout:    job.Timeout.String(),
		tagStopGrace:  job.EffectiveStopGrace().String(),
		tagContainer:  tc.EffectiveContainerName(),
	}
	maps.Copy(tags, tc.Tags)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return in
}

// findTask looks for the task of one attempt in cluster by its startedBy
// and tags.
func (l *Launcher) findTask(ctx context.Context, cluster, runID string, attempt int32) (types.Task, bool, error) {
	arns, err := l.listTasksIn(ctx, cluster, startedBy(runID))
	if err != nil {
		return types.Task{}, false, err
	}
	tasks, _, err := l.describeIn(ctx, cluster, arns, true)
	if err != nil {
		return types.Task{}, false, err
	}
	want := strconv.FormatInt(int64(attempt), 10)
	for _, t := range tasks {
		tags := tagMap(t.Tags)
		if tags[tagRunID] == runID && tags[tagAttempt] == want && tags[tagAgent] == l.cfg.AgentName {
			return t, true, nil
		}
	}
	return types.Task{}, false, nil
}

// listTasksIn lists the tasks of cluster, running and stopped, that were
// started by by; an empty by lists them all.
func (l *Launcher) listTasksIn(ctx context.Context, cluster, by string) ([]string, error) {
	var arns []string
	for _, status := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		in := &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: status}
		if by != "" {
			in.StartedBy = aws.String(by)
		}
		pages := ecs.NewListTasksPaginator(l.ecs, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, awsError("ListTasks", err)
			}
			arns = append(arns, page.TaskArns...)
		}
	}
	return arns, nil
}

// maxDescribe is the most tasks one DescribeTasks call accepts.
const maxDescribe = 100

// describeIn reads tasks of cluster in batches, returning those ECS knows
// and the ARNs it reports missing.
func (l *Launcher) describeIn(
	ctx context.Context,
	cluster string,
	arns []string,
	withTags bool,
) ([]types.Task, []string, error) {
	var tasks []types.Task
	var missing []string
	for batch := range slices.Chunk(arns, maxDescribe) {
		in := &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: batch}
		if withTags {
			in.Include = []types.TaskField{types.TaskFieldTags}
		}
		out, err := l.ecs.DescribeTasks(ctx, in)
		if err != nil {
			return nil, nil, awsError("DescribeTasks", err)
		}
		tasks = append(tasks, out.Tasks...)
		for _, f := range out.Failures {
			if aws.ToString(f.Reason) == "MISSING" {
				missing = append(missing, aws.ToString(f.Arn))
			}
		}
	}
	return tasks, missing, nil
}

// clientToken is RunTask's idempotency token for one attempt: at most 64
// characters, the same on every try.
func clientToken(runID string, attempt int32) string {
	sum := sha256.Sum256([]byte(runID + "/" + strconv.FormatInt(int64(attempt), 10)))
	return "ferry-" + hex.EncodeToString(sum[:16])
}

// startedBy is the startedBy of a run's tasks: "ferry-" and the first
// characters of the run id that ECS allows there.
func startedBy(runID string) string {
	var b strings.Builder
	b.WriteString(startedByPrefix)
	for _, r := range runID {
		if b.Len() >= len(startedByPrefix)+32 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func failureText(fs []types.Failure) string {
	if len(fs) == 0 {
		return "no failure reported"
	}
	var parts []string
	for _, f := range fs {
		s := aws.ToString(f.Reason)
		if d := aws.ToString(f.Detail); d != "" {
			s += " (" + d + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isClientFault reports whether err is an answer that refuses the request
// itself, so that trying again cannot help and no task was started.
func isClientFault(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "ServerException":
		return false
	}
	return ae.ErrorFault() == smithy.FaultClient
}

// awsError turns an SDK error into words for the run's state message: the
// operation, the AWS error code and message, without request ids or
// anything from the request.
func awsError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("ECS %s: %s: %s", op, ae.ErrorCode(), ae.ErrorMessage())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("ECS %s: no answer in time: %w", op, err)
	}
	return fmt.Errorf("ECS %s: %w", op, err)
}
