package awsfake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets of the ECS fake.
const (
	// TargetRegisterTaskDefinition is the X-Amz-Target of RegisterTaskDefinition.
	TargetRegisterTaskDefinition = ecsPrefix + ".RegisterTaskDefinition"
	// TargetDescribeTaskDefinition is the X-Amz-Target of DescribeTaskDefinition.
	TargetDescribeTaskDefinition = ecsPrefix + ".DescribeTaskDefinition"
	// TargetRunTask is the X-Amz-Target of RunTask.
	TargetRunTask = ecsPrefix + ".RunTask"
	// TargetDescribeTasks is the X-Amz-Target of DescribeTasks.
	TargetDescribeTasks = ecsPrefix + ".DescribeTasks"
	// TargetStopTask is the X-Amz-Target of StopTask.
	TargetStopTask = ecsPrefix + ".StopTask"
	// TargetListTasks is the X-Amz-Target of ListTasks.
	TargetListTasks = ecsPrefix + ".ListTasks"
)

const ecsPrefix = "AmazonEC2ContainerServiceV20141113"

// Stop reasons and codes the fake writes as ECS does.
const (
	// OOMReason is the container reason of a container killed for memory.
	OOMReason = "OutOfMemoryError: Container killed due to memory usage"
	// CapacityReason is the stopped reason of a task that found no capacity.
	CapacityReason = "Capacity is unavailable at this time. Please try again later or in a different availability zone"
	// SpotReason is the stopped reason of an interrupted Fargate Spot task.
	SpotReason = "Your Spot Task was interrupted."
)

// ECS is a fake of the Amazon ECS task operations. Tasks start RUNNING and
// stay so until a test ends them ([ECS.Exit], [ECS.OOM], [ECS.Interrupt],
// [ECS.Lose]), a script ends them ([ECS.Script]) or StopTask is called.
// Tasks belong to the cluster RunTask named and are seen only there.
// Requests are checked against the real API's required fields and value
// ranges; a bad one fails with InvalidParameterException or ClientException
// and is recorded ([Server.InvalidRequests]). It is safe for concurrent use.
type ECS struct {
	logs *Logs

	mu          sync.Mutex
	seq         int
	families    map[string][]ecsTaskDefinition // family -> revisions, index i is revision i+1
	tasks       map[string]*ecsTask            // by ARN
	order       []string                       // task ARNs in creation order
	tokens      map[string][]string            // clientToken -> task ARNs
	placement   []string                       // reasons of the next RunTask failures
	pullFail    map[string]string              // image -> CannotPullContainerError message
	capacity    int                            // next tasks that stop for want of capacity
	runTaskSlow time.Duration
	script      func(ECSTask) TaskScript // nil: tasks run until ended by the test
}

// NewECS registers an ECS fake on s and returns it. logs, when not nil,
// receives a log stream for every task whose container uses the awslogs
// driver, created when the task starts.
func NewECS(s *Server, logs *Logs) *ECS {
	e := &ECS{
		logs:     logs,
		families: map[string][]ecsTaskDefinition{},
		tasks:    map[string]*ecsTask{},
		tokens:   map[string][]string{},
		pullFail: map[string]string{},
	}
	s.Register(Service{
		TargetPrefix: ecsPrefix,
		SigningName:  "ecs",
		JSONVersion:  "1.1",
		Operations: map[string]Operation{
			"RegisterTaskDefinition": e.registerTaskDefinition,
			"DescribeTaskDefinition": e.describeTaskDefinition,
			"RunTask":                e.runTask,
			"DescribeTasks":          e.describeTasks,
			"StopTask":               e.stopTask,
			"ListTasks":              e.listTasks,
		},
	})
	return e
}

// ECSTask is a snapshot of a task of the fake.
type ECSTask struct {
	ARN            string
	Cluster        string // the cluster's name
	TaskDefinition string
	StartedBy      string
	Group          string
	LastStatus     string
	StopCode       string
	StoppedReason  string
	Tags           map[string]string
	// Command and Environment are the container overrides RunTask received.
	Command     []string
	Environment map[string]string
	// LogStream is the task's awslogs stream, or empty.
	LogGroup, LogStream string
	// CPU and Memory are the task's size, as the task definition or the
	// overrides of RunTask set it.
	CPU, Memory string
}

// Tasks returns every task the fake holds, lost ones excepted, in creation
// order.
func (e *ECS) Tasks() []ECSTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ECSTask, 0, len(e.order))
	for _, arn := range e.order {
		t, ok := e.tasks[arn]
		if !ok {
			continue
		}
		out = append(out, t.public())
	}
	return out
}

// public returns the test's view of t. e.mu must be held.
func (t *ecsTask) public() ECSTask {
	return ECSTask{
		ARN: t.TaskArn, Cluster: clusterName(t.ClusterArn), TaskDefinition: t.TaskDefinitionArn,
		StartedBy: t.StartedBy, Group: t.Group,
		LastStatus: t.LastStatus, StopCode: t.StopCode, StoppedReason: t.StoppedReason,
		Tags: tagMap(t.Tags), Command: slices.Clone(t.command), Environment: maps.Clone(t.env),
		LogGroup: t.logGroup, LogStream: t.logStream, CPU: t.Cpu, Memory: t.Memory,
	}
}

// clusterName returns the name of a cluster given by name or ARN; empty
// means the default cluster, as in ECS.
func clusterName(ref string) string {
	if _, rest, ok := strings.Cut(ref, ":cluster/"); ok {
		return rest
	}
	if ref == "" {
		return "default"
	}
	return ref
}

// TaskEnd is how a scripted task ends; see [TaskScript].
type TaskEnd int

const (
	// EndNever leaves the task running until StopTask or the test ends it.
	EndNever TaskEnd = iota
	// EndExit stops the task as if its essential container exited with
	// [TaskScript.ExitCode].
	EndExit
	// EndOOM stops the task as [ECS.OOM] does.
	EndOOM
	// EndInterrupt stops the task as [ECS.Interrupt] does.
	EndInterrupt
	// EndCapacity stops the task without an exit code, as ECS stops one
	// that found no capacity ([CapacityReason]).
	EndCapacity
)

// TaskScript is what a task does once RunTask has started it; see
// [ECS.Script]. The zero value leaves the task running and silent.
type TaskScript struct {
	// Lines are written to the task's log stream one at a time, Interval
	// apart, the first Interval after the start. Writing stops if the task
	// is stopped meanwhile.
	Lines    []string
	Interval time.Duration
	// Hold is how long the task goes on running after its last line before
	// it ends as End says.
	Hold time.Duration
	End  TaskEnd
	// ExitCode is the essential container's exit code under [EndExit].
	ExitCode int
}

// Script makes each task that RunTask starts from now on play what script
// returns for it, on a goroutine of its own: script sees the task as it was
// created (command, environment and tags included) and should return
// quickly. A task that stops at once (a capacity or pull failure) plays
// nothing. nil stops scripting new tasks.
func (e *ECS) Script(script func(ECSTask) TaskScript) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = script
}

// play runs sc for the task arn.
func (e *ECS) play(arn string, group, stream string, sc TaskScript) {
	// write appends a line unless the task has stopped; under e.mu, so that
	// no line follows a stop.
	write := func(line string) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		if t, ok := e.tasks[arn]; !ok || t.LastStatus != "RUNNING" {
			return false
		}
		if e.logs != nil && stream != "" {
			e.logs.Append(group, stream, line)
		}
		return true
	}
	for _, line := range sc.Lines {
		time.Sleep(sc.Interval)
		if !write(line) {
			return
		}
	}
	time.Sleep(sc.Hold)
	// An error means the task was stopped or lost meanwhile: nothing to end.
	switch sc.End {
	case EndExit:
		_ = e.Exit(arn, sc.ExitCode)
	case EndOOM:
		_ = e.OOM(arn)
	case EndInterrupt:
		_ = e.Interrupt(arn)
	case EndCapacity:
		_ = e.end(arn, nil, "", "TaskFailedToStart", CapacityReason)
	}
}

// Exit stops a running task as if its essential container exited with code.
func (e *ECS) Exit(arn string, code int) error {
	return e.end(arn, &code, "", "EssentialContainerExited", "Essential container in task exited")
}

// OOM stops a running task as if its container was killed for memory.
func (e *ECS) OOM(arn string) error {
	code := 137
	return e.end(arn, &code, OOMReason, "EssentialContainerExited", "Essential container in task exited")
}

// Interrupt stops a running task as Fargate Spot does when it reclaims
// capacity: no exit code is reported.
func (e *ECS) Interrupt(arn string) error {
	return e.end(arn, nil, "", "SpotInterruption", SpotReason)
}

// Lose forgets a task, as ECS does some time after a task stopped:
// DescribeTasks then reports it MISSING.
func (e *ECS) Lose(arn string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.tasks[arn]; !ok {
		return fmt.Errorf("awsfake: no task %s", arn)
	}
	delete(e.tasks, arn)
	return nil
}

// FailPlacement makes the next RunTask calls, one per reason, answer with a
// failure of that reason (such as "RESOURCE:MEMORY") and no task.
func (e *ECS) FailPlacement(reasons ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.placement = append(e.placement, reasons...)
}

// FailCapacity makes the next n tasks stop at once, before starting, with
// [CapacityReason].
func (e *ECS) FailCapacity(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.capacity += n
}

// FailPull makes tasks of image stop at once, before starting, with
// "CannotPullContainerError: " and message.
func (e *ECS) FailPull(image, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pullFail[image] = message
}

// SlowRunTask makes RunTask create its task and then hold the answer for d,
// or until the client gives up: the task exists though the caller never
// heard of it. Zero restores prompt answers.
func (e *ECS) SlowRunTask(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runTaskSlow = d
}

func (e *ECS) end(arn string, code *int, containerReason, stopCode, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tasks[arn]
	if !ok {
		return fmt.Errorf("awsfake: no task %s", arn)
	}
	if t.LastStatus == "STOPPED" {
		return fmt.Errorf("awsfake: task %s already stopped", arn)
	}
	t.stop(code, containerReason, stopCode, reason)
	return nil
}

type ecsKeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsSecret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type ecsLogConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options,omitempty"`
}

type ecsContainerDefinition struct {
	Name             string               `json:"name"`
	Image            string               `json:"image"`
	Essential        *bool                `json:"essential,omitempty"`
	Command          []string             `json:"command,omitempty"`
	EntryPoint       []string             `json:"entryPoint,omitempty"`
	Environment      []ecsKeyValue        `json:"environment,omitempty"`
	Secrets          []ecsSecret          `json:"secrets,omitempty"`
	User             string               `json:"user,omitempty"`
	WorkingDirectory string               `json:"workingDirectory,omitempty"`
	StopTimeout      *int                 `json:"stopTimeout,omitempty"`
	LogConfiguration *ecsLogConfiguration `json:"logConfiguration,omitempty"`
}

type ecsTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type ecsTaskDefinition struct {
	TaskDefinitionArn       string                   `json:"taskDefinitionArn"`
	Family                  string                   `json:"family"`
	Revision                int                      `json:"revision"`
	Status                  string                   `json:"status"`
	ContainerDefinitions    []ecsContainerDefinition `json:"containerDefinitions"`
	Cpu                     string                   `json:"cpu,omitempty"`
	Memory                  string                   `json:"memory,omitempty"`
	NetworkMode             string                   `json:"networkMode,omitempty"`
	RequiresCompatibilities []string                 `json:"requiresCompatibilities,omitempty"`
	TaskRoleArn             string                   `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn        string                   `json:"executionRoleArn,omitempty"`
}

type registerTaskDefinitionInput struct {
	ecsTaskDefinition
	Tags []ecsTag `json:"tags"`
}

var (
	familyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	startedByRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	fargateCPU    = map[string]bool{"256": true, "512": true, "1024": true, "2048": true, "4096": true, "8192": true, "16384": true}
	validLaunch   = map[string]bool{"EC2": true, "FARGATE": true, "EXTERNAL": true, "MANAGED_INSTANCES": true}
	validNetworks = map[string]bool{"bridge": true, "host": true, "awsvpc": true, "none": true}
)

// invalidParam and clientErr refuse a request that is invalid for the real
// API whatever the state; the server records it ([Server.InvalidRequests]).
func invalidParam(format string, args ...any) error {
	return &APIError{Type: "InvalidParameterException", Message: fmt.Sprintf(format, args...), invalid: true}
}

func clientErr(format string, args ...any) error {
	return &APIError{Type: "ClientException", Message: fmt.Sprintf(format, args...), invalid: true}
}

// refused refuses a valid request because of the state of the resources it
// names, such as a task that does not exist.
func refused(typ, format string, args ...any) error {
	return &APIError{Type: typ, Message: fmt.Sprintf(format, args...)}
}

func (e *ECS) registerTaskDefinition(_ context.Context, call Call) (any, error) {
	var in registerTaskDefinitionInput
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	td := in.ecsTaskDefinition
	if err := checkTaskDefinition(td); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	td.Revision = len(e.families[td.Family]) + 1
	td.Status = "ACTIVE"
	td.TaskDefinitionArn = fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", call.Region, AccountID, td.Family, td.Revision)
	e.families[td.Family] = append(e.families[td.Family], td)
	return map[string]any{"taskDefinition": td}, nil
}

func checkTaskDefinition(td ecsTaskDefinition) error {
	if !familyPattern.MatchString(td.Family) {
		return clientErr("Family %q must be 1-255 letters, numbers, hyphens and underscores.", td.Family)
	}
	if len(td.ContainerDefinitions) == 0 {
		return clientErr("Container list cannot be empty.")
	}
	if td.NetworkMode != "" && !validNetworks[td.NetworkMode] {
		return clientErr("Invalid network mode %q.", td.NetworkMode)
	}
	essential := false
	for _, c := range td.ContainerDefinitions {
		if !namePattern.MatchString(c.Name) {
			return clientErr("Container name %q is invalid.", c.Name)
		}
		if c.Image == "" {
			return clientErr("Container.image should not be null or empty.")
		}
		if c.Essential == nil || *c.Essential {
			essential = true
		}
		if c.StopTimeout != nil && (*c.StopTimeout < 2 || *c.StopTimeout > 120) {
			return clientErr("stopTimeout must be between 2 and 120 seconds.")
		}
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver == "awslogs" &&
			(lc.Options["awslogs-group"] == "" || lc.Options["awslogs-region"] == "") {
			return clientErr("awslogs requires the awslogs-group and awslogs-region options.")
		}
		for _, s := range c.Secrets {
			if s.Name == "" || !strings.HasPrefix(s.ValueFrom, "arn:aws:") && !strings.HasPrefix(s.ValueFrom, "/") {
				return clientErr("secret %q: valueFrom must be an ARN or a parameter name", s.Name)
			}
		}
	}
	if !essential {
		return clientErr("Task definition must have at least one essential container.")
	}
	if slices.Contains(td.RequiresCompatibilities, "FARGATE") {
		if td.NetworkMode != "awsvpc" {
			return clientErr("Fargate requires network mode awsvpc.")
		}
		if !fargateCPU[td.Cpu] || td.Memory == "" {
			return clientErr("Fargate requires task-level cpu and memory; cpu %q is not supported.", td.Cpu)
		}
	}
	return nil
}

func checkTags(tags []ecsTag) error {
	if len(tags) > 50 {
		return invalidParam("Tags can have at most 50 entries.")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return invalidParam("Tag key must be 1-128 characters and value at most 256.")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return invalidParam("Tag keys may not start with aws:.")
		}
	}
	return nil
}

func (e *ECS) describeTaskDefinition(_ context.Context, call Call) (any, error) {
	var in struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.TaskDefinition == "" {
		return nil, clientErr("taskDefinition is required.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	td, ok := e.findTaskDefinition(in.TaskDefinition)
	if !ok {
		return nil, refused("ClientException", "Unable to describe task definition.")
	}
	return map[string]any{"taskDefinition": td}, nil
}

// findTaskDefinition resolves a family, family:revision or ARN. e.mu must be
// held.
func (e *ECS) findTaskDefinition(ref string) (ecsTaskDefinition, bool) {
	if _, rest, ok := strings.Cut(ref, ":task-definition/"); ok {
		ref = rest
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	revs := e.families[family]
	if len(revs) == 0 {
		return ecsTaskDefinition{}, false
	}
	if !hasRev {
		return revs[len(revs)-1], true
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n < 1 || n > len(revs) {
		return ecsTaskDefinition{}, false
	}
	return revs[n-1], true
}

type runTaskInput struct {
	Cluster                  string `json:"cluster"`
	TaskDefinition           string `json:"taskDefinition"`
	Count                    *int   `json:"count"`
	ClientToken              string `json:"clientToken"`
	StartedBy                string `json:"startedBy"`
	Group                    string `json:"group"`
	LaunchType               string `json:"launchType"`
	PlatformVersion          string `json:"platformVersion"`
	CapacityProviderStrategy []struct {
		CapacityProvider string `json:"capacityProvider"`
		Weight           int    `json:"weight"`
		Base             int    `json:"base"`
	} `json:"capacityProviderStrategy"`
	NetworkConfiguration *struct {
		AwsvpcConfiguration *struct {
			Subnets        []string `json:"subnets"`
			SecurityGroups []string `json:"securityGroups"`
			AssignPublicIp string   `json:"assignPublicIp"`
		} `json:"awsvpcConfiguration"`
	} `json:"networkConfiguration"`
	Overrides *struct {
		Cpu                string `json:"cpu"`
		Memory             string `json:"memory"`
		ContainerOverrides []struct {
			Name        string        `json:"name"`
			Command     []string      `json:"command"`
			Environment []ecsKeyValue `json:"environment"`
		} `json:"containerOverrides"`
	} `json:"overrides"`
	Tags []ecsTag `json:"tags"`
}

type ecsContainer struct {
	ContainerArn string `json:"containerArn"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	LastStatus   string `json:"lastStatus"`
	ExitCode     *int   `json:"exitCode,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

type ecsTask struct {
	TaskArn           string         `json:"taskArn"`
	ClusterArn        string         `json:"clusterArn"`
	TaskDefinitionArn string         `json:"taskDefinitionArn"`
	StartedBy         string         `json:"startedBy,omitempty"`
	Group             string         `json:"group,omitempty"`
	LaunchType        string         `json:"launchType,omitempty"`
	LastStatus        string         `json:"lastStatus"`
	DesiredStatus     string         `json:"desiredStatus"`
	StopCode          string         `json:"stopCode,omitempty"`
	StoppedReason     string         `json:"stoppedReason,omitempty"`
	CreatedAt         float64        `json:"createdAt"`
	StartedAt         float64        `json:"startedAt,omitempty"`
	StoppedAt         float64        `json:"stoppedAt,omitempty"`
	Cpu               string         `json:"cpu,omitempty"`
	Memory            string         `json:"memory,omitempty"`
	Containers        []ecsContainer `json:"containers"`
	Tags              []ecsTag       `json:"tags,omitempty"`

	family    string
	command   []string
	env       map[string]string
	logGroup  string
	logStream string
}

func (t *ecsTask) stop(code *int, containerReason, stopCode, reason string) {
	now := epochSeconds(time.Now())
	t.LastStatus, t.DesiredStatus = "STOPPED", "STOPPED"
	t.StopCode, t.StoppedReason, t.StoppedAt = stopCode, reason, now
	for i := range t.Containers {
		t.Containers[i].LastStatus = "STOPPED"
		t.Containers[i].ExitCode = code
		t.Containers[i].Reason = containerReason
	}
}

// snapshot returns a copy of t that is safe to encode after e.mu is
// released.
func (t *ecsTask) snapshot() ecsTask {
	c := *t
	c.Containers = slices.Clone(t.Containers)
	c.Tags = slices.Clone(t.Tags)
	return c
}

func (e *ECS) runTask(ctx context.Context, call Call) (any, error) {
	var in runTaskInput
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if err := checkRunTask(in); err != nil {
		return nil, err
	}
	count := 1
	if in.Count != nil {
		count = *in.Count
	}

	e.mu.Lock()
	out, created, err := e.createTasks(call.Region, in, count)
	slow := e.runTaskSlow
	type play struct {
		arn, group, stream string
		script             TaskScript
	}
	var plays []play
	if e.script != nil {
		for _, arn := range created {
			if t := e.tasks[arn]; t.LastStatus == "RUNNING" {
				plays = append(plays, play{arn, t.logGroup, t.logStream, e.script(t.public())})
			}
		}
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, p := range plays {
		go e.play(p.arn, p.group, p.stream, p.script)
	}
	if slow > 0 {
		t := time.NewTimer(slow)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func checkRunTask(in runTaskInput) error {
	switch {
	case in.TaskDefinition == "":
		return invalidParam("taskDefinition is required.")
	case in.Count != nil && (*in.Count < 1 || *in.Count > 10):
		return invalidParam("count must be between 1 and 10.")
	case len(in.ClientToken) > 64:
		return invalidParam("clientToken can be at most 64 characters.")
	case in.StartedBy != "" && !startedByRE.MatchString(in.StartedBy):
		return invalidParam("startedBy must be up to 128 letters, numbers, hyphens and underscores.")
	case len(in.Group) > 255:
		return invalidParam("group can be at most 255 characters.")
	case in.LaunchType != "" && !validLaunch[in.LaunchType]:
		return invalidParam("launchType %q is not valid.", in.LaunchType)
	case in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0:
		return invalidParam("Specifying both a launch type and capacity provider strategy is not supported.")
	case len(in.CapacityProviderStrategy) > 20:
		return invalidParam("capacityProviderStrategy can have at most 20 entries.")
	}
	for _, cp := range in.CapacityProviderStrategy {
		if cp.CapacityProvider == "" || cp.Weight < 0 || cp.Weight > 1000 || cp.Base < 0 || cp.Base > 100000 {
			return invalidParam("capacityProviderStrategy entry is not valid.")
		}
	}
	if nc := in.NetworkConfiguration; nc != nil && nc.AwsvpcConfiguration != nil {
		vpc := nc.AwsvpcConfiguration
		if len(vpc.Subnets) == 0 || len(vpc.Subnets) > 16 || len(vpc.SecurityGroups) > 5 {
			return invalidParam("awsvpcConfiguration needs 1-16 subnets and at most 5 security groups.")
		}
		if vpc.AssignPublicIp != "" && vpc.AssignPublicIp != "ENABLED" && vpc.AssignPublicIp != "DISABLED" {
			return invalidParam("assignPublicIp must be ENABLED or DISABLED.")
		}
	}
	return checkTags(in.Tags)
}

// createTasks answers a checked RunTask, and returns the ARNs of the tasks
// it created. e.mu must be held.
func (e *ECS) createTasks(region string, in runTaskInput, count int) (any, []string, error) {
	td, ok := e.findTaskDefinition(in.TaskDefinition)
	if !ok {
		return nil, nil, refused("InvalidParameterException", "TaskDefinition not found.")
	}
	fargate := in.LaunchType == "FARGATE" || len(in.CapacityProviderStrategy) > 0
	if (td.NetworkMode == "awsvpc" || fargate) &&
		(in.NetworkConfiguration == nil || in.NetworkConfiguration.AwsvpcConfiguration == nil) {
		return nil, nil, invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	}
	if err := checkOverrides(td, in); err != nil {
		return nil, nil, err
	}
	clusterName := clusterName(in.Cluster)
	if in.ClientToken != "" {
		if arns, ok := e.tokens[in.ClientToken]; ok {
			return e.runTaskOutput(arns, nil), nil, nil
		}
	}
	if len(e.placement) > 0 {
		reason := e.placement[0]
		e.placement = e.placement[1:]
		return e.runTaskOutput(nil, []map[string]string{{"arn": "arn:aws:ecs:" + region + ":" + AccountID + ":container-instance/" + clusterName, "reason": reason}}), nil, nil
	}

	var arns []string
	for range count {
		e.seq++
		id := fmt.Sprintf("%032x", e.seq)
		t := &ecsTask{
			TaskArn:           fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", region, AccountID, clusterName, id),
			ClusterArn:        fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, AccountID, clusterName),
			TaskDefinitionArn: td.TaskDefinitionArn,
			StartedBy:         in.StartedBy,
			Group:             in.Group,
			LaunchType:        in.LaunchType,
			LastStatus:        "RUNNING",
			DesiredStatus:     "RUNNING",
			CreatedAt:         epochSeconds(time.Now()),
			StartedAt:         epochSeconds(time.Now()),
			Cpu:               td.Cpu,
			Memory:            td.Memory,
			Tags:              in.Tags,
			family:            td.Family,
			env:               map[string]string{},
		}
		if in.Group == "" {
			t.Group = "family:" + td.Family
		}
		for i, c := range td.ContainerDefinitions {
			t.Containers = append(t.Containers, ecsContainer{
				ContainerArn: fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%d", region, AccountID, clusterName, id, i),
				Name:         c.Name, Image: c.Image, LastStatus: "RUNNING",
			})
		}
		e.applyOverrides(t, td, in)
		if in.Overrides != nil && in.Overrides.Cpu != "" {
			t.Cpu = in.Overrides.Cpu
		}
		if in.Overrides != nil && in.Overrides.Memory != "" {
			t.Memory = in.Overrides.Memory
		}
		e.startLogs(t, td, id)
		if msg, ok := e.pullFail[td.ContainerDefinitions[0].Image]; ok {
			reason := "CannotPullContainerError: " + msg
			t.stop(nil, reason, "TaskFailedToStart", reason)
		} else if e.capacity > 0 {
			e.capacity--
			t.stop(nil, "", "TaskFailedToStart", CapacityReason)
		}
		e.tasks[t.TaskArn] = t
		e.order = append(e.order, t.TaskArn)
		arns = append(arns, t.TaskArn)
	}
	if in.ClientToken != "" {
		e.tokens[in.ClientToken] = arns
	}
	return e.runTaskOutput(arns, nil), arns, nil
}

// maxOverrideBytes is the most characters the overrides of one RunTask may
// take, as JSON.
const maxOverrideBytes = 8192

// checkOverrides checks RunTask's overrides against the task definition:
// each container override names a container of it, environment entries
// have names, and the whole fits ECS's size limit.
func checkOverrides(td ecsTaskDefinition, in runTaskInput) error {
	o := in.Overrides
	if o == nil {
		return nil
	}
	if b, err := json.Marshal(o); err == nil && len(b) > maxOverrideBytes {
		return invalidParam("Container Overrides length must be at most %d", maxOverrideBytes)
	}
	for _, co := range o.ContainerOverrides {
		if !slices.ContainsFunc(td.ContainerDefinitions, func(c ecsContainerDefinition) bool { return c.Name == co.Name }) {
			return invalidParam("Override for container named %s is not a container in the TaskDefinition.", co.Name)
		}
		for _, kv := range co.Environment {
			if kv.Name == "" {
				return invalidParam("Environment variable names in container overrides must not be empty.")
			}
		}
	}
	return nil
}

func (e *ECS) applyOverrides(t *ecsTask, td ecsTaskDefinition, in runTaskInput) {
	c := td.ContainerDefinitions[0]
	t.command = c.Command
	for _, kv := range c.Environment {
		t.env[kv.Name] = kv.Value
	}
	if in.Overrides == nil {
		return
	}
	for _, o := range in.Overrides.ContainerOverrides {
		if o.Name != c.Name {
			continue
		}
		if o.Command != nil {
			t.command = o.Command
		}
		for _, kv := range o.Environment {
			t.env[kv.Name] = kv.Value
		}
	}
}

// startLogs creates the awslogs stream of t's first container, named as ECS
// names it: prefix/container-name/task-id.
func (e *ECS) startLogs(t *ecsTask, td ecsTaskDefinition, id string) {
	lc := td.ContainerDefinitions[0].LogConfiguration
	if lc == nil || lc.LogDriver != "awslogs" {
		return
	}
	t.logGroup = lc.Options["awslogs-group"]
	t.logStream = lc.Options["awslogs-stream-prefix"] + "/" + td.ContainerDefinitions[0].Name + "/" + id
	if e.logs != nil {
		e.logs.CreateStream(t.logGroup, t.logStream)
	}
}

func (e *ECS) runTaskOutput(arns []string, failures []map[string]string) map[string]any {
	tasks := make([]ecsTask, 0, len(arns))
	for _, arn := range arns {
		if t, ok := e.tasks[arn]; ok {
			tasks = append(tasks, t.snapshot())
		}
	}
	if failures == nil {
		failures = []map[string]string{}
	}
	return map[string]any{"tasks": tasks, "failures": failures}
}

func (e *ECS) describeTasks(_ context.Context, call Call) (any, error) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
		Include []string `json:"include"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, invalidParam("Tasks cannot be empty and can have at most 100 entries.")
	}
	for _, f := range in.Include {
		if f != "TAGS" {
			return nil, invalidParam("include %q is not valid.", f)
		}
	}
	tags := slices.Contains(in.Include, "TAGS")
	cluster := clusterName(in.Cluster)

	e.mu.Lock()
	defer e.mu.Unlock()
	tasks := []ecsTask{}
	failures := []map[string]string{}
	for _, arn := range in.Tasks {
		t, ok := e.tasks[arn]
		if !ok || clusterName(t.ClusterArn) != cluster {
			failures = append(failures, map[string]string{"arn": arn, "reason": "MISSING"})
			continue
		}
		c := t.snapshot()
		if !tags {
			c.Tags = nil
		}
		tasks = append(tasks, c)
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func (e *ECS) stopTask(_ context.Context, call Call) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.Task == "" {
		return nil, invalidParam("task is required.")
	}
	if len(in.Reason) > 255 {
		return nil, invalidParam("reason can be at most 255 characters.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tasks[in.Task]
	if !ok || clusterName(t.ClusterArn) != clusterName(in.Cluster) {
		return nil, refused("InvalidParameterException", "The referenced task was not found.")
	}
	if t.LastStatus != "STOPPED" {
		code := 143
		t.stop(&code, "", "UserInitiated", "Task stopped by user: "+in.Reason)
	}
	return map[string]any{"task": t.snapshot()}, nil
}

func (e *ECS) listTasks(_ context.Context, call Call) (any, error) {
	var in struct {
		Cluster       string `json:"cluster"`
		StartedBy     string `json:"startedBy"`
		Family        string `json:"family"`
		DesiredStatus string `json:"desiredStatus"`
		MaxResults    *int   `json:"maxResults"`
		NextToken     string `json:"nextToken"`
	}
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 100) {
		return nil, invalidParam("maxResults must be between 1 and 100.")
	}
	if in.DesiredStatus != "" && in.DesiredStatus != "RUNNING" && in.DesiredStatus != "PENDING" && in.DesiredStatus != "STOPPED" {
		return nil, invalidParam("desiredStatus %q is not valid.", in.DesiredStatus)
	}
	want := in.DesiredStatus
	if want == "" {
		want = "RUNNING"
	}
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			return nil, invalidParam("nextToken is not valid.")
		}
		start = n
	}

	cluster := clusterName(in.Cluster)
	e.mu.Lock()
	defer e.mu.Unlock()
	var arns []string
	for _, arn := range e.order {
		t, ok := e.tasks[arn]
		if !ok || t.DesiredStatus != want || clusterName(t.ClusterArn) != cluster ||
			in.StartedBy != "" && t.StartedBy != in.StartedBy ||
			in.Family != "" && t.family != in.Family {
			continue
		}
		arns = append(arns, arn)
	}
	out := map[string]any{"taskArns": []string{}}
	if start < len(arns) {
		end := min(start+limit, len(arns))
		out["taskArns"] = arns[start:end]
		if end < len(arns) {
			out["nextToken"] = strconv.Itoa(end)
		}
	}
	return out, nil
}

func tagMap(tags []ecsTag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
