package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	"github.com/ferryhq/ferry/internal/awsfake"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// The ECS tests run the real ferry and ferry-agent binaries with an ecs work
// pool; the agent's AWS SDK is pointed at an awsfake server of this test
// process. A task does what its command says (see [taskScript]), so each
// run scripts its own outcome.
const (
	ecsPoolName = "tasks"
	ecsCluster  = "ferry-e2e"
	ecsLogGroup = "/ferry/e2e"
	// ecsImage is never pulled: the fake runs no containers.
	ecsImage = "ferry-e2e-task:1"
	// ecsMemory is the agent's task memory in MiB.
	ecsMemory = 512
	// ecsOtherCluster and ecsOtherLogGroup are where [ecsOtherPlacement]
	// puts a run: a cluster the agent lists in ecs.other_clusters, and a
	// log group of its own.
	ecsOtherCluster  = "ferry-e2e-2"
	ecsOtherLogGroup = "/ferry/e2e-2"
	// ecsOtherPlacement is the job variables of a run placed there, with
	// its own stream prefix and container name as well.
	ecsOtherPlacement = `{"cluster":"` + ecsOtherCluster + `","log_group":"` + ecsOtherLogGroup +
		`","stream_prefix":"other","container_name":"job"}`
)

// Tags the ECS launcher writes on its tasks.
const (
	tagRunID   = "ferry:run-id"
	tagAttempt = "ferry:attempt"
	tagAgent   = "ferry:agent"
)

// taskScript reads what a task does from its command, words of the form
// key=value after the program name:
//
//	lines=N       write "out 1" .. "out N" to the log stream
//	interval=D    between lines (default 5ms)
//	hold=D        run on this long after the last line (default 0)
//	end=E         exit (default), oom, capacity, spot or never
//	exit=N        the exit code under end=exit (default 0)
//
// A task without a command (one a test starts itself, not through Ferry)
// runs silently until stopped. A word it does not know makes the task exit
// 99, so that a broken script cannot pass for a scripted failure.
func taskScript(task awsfake.ECSTask) awsfake.TaskScript {
	sc := awsfake.TaskScript{Interval: 5 * time.Millisecond, End: awsfake.EndExit}
	broken := awsfake.TaskScript{End: awsfake.EndExit, ExitCode: 99}
	if len(task.Command) == 0 {
		return awsfake.TaskScript{}
	}
	for _, word := range task.Command[1:] {
		k, v, _ := strings.Cut(word, "=")
		var err error
		switch k {
		case "lines":
			var n int
			n, err = strconv.Atoi(v)
			sc.Lines = outLines(n)
		case "interval":
			sc.Interval, err = time.ParseDuration(v)
		case "hold":
			sc.Hold, err = time.ParseDuration(v)
		case "exit":
			sc.ExitCode, err = strconv.Atoi(v)
		case "end":
			ends := map[string]awsfake.TaskEnd{
				"exit": awsfake.EndExit, "oom": awsfake.EndOOM, "capacity": awsfake.EndCapacity,
				"spot": awsfake.EndInterrupt, "never": awsfake.EndNever,
			}
			e, ok := ends[v]
			if !ok {
				return broken
			}
			sc.End = e
		default:
			return broken
		}
		if err != nil {
			return broken
		}
	}
	return sc
}

// ecsPlane is a real control plane with an ecs work pool, and the fake
// AWS its agents call.
type ecsPlane struct {
	*realPlane
	aws *awsfake.Server
	ecs *awsfake.ECS
	api clients
}

// startECSPlane starts a control plane with an ecs pool named
// [ecsPoolName] and an awsfake server scripted by [taskScript]. When the
// test ends, after its agents are gone, it checks that the fake refused no
// request as invalid for the real API and that no attempt of a run had two
// tasks.
func startECSPlane(t *testing.T, lease time.Duration, serverEnv ...string) *ecsPlane {
	t.Helper()
	srv := awsfake.Start(t)
	logs := awsfake.NewLogs(srv)
	fake := awsfake.NewECS(srv, logs)
	fake.Script(taskScript)
	rp := startRealPlane(t, lease, serverEnv...)
	ep := &ecsPlane{realPlane: rp, aws: srv, ecs: fake, api: rp.api(t)}
	t.Cleanup(func() {
		for _, r := range srv.InvalidRequests() {
			t.Errorf("the agent sent %s, which the real API refuses: %s\n%s", r.Target, r.Error, r.Body)
		}
		seen := map[string]string{}
		for _, task := range fake.Tasks() {
			run := task.Tags[tagRunID]
			if run == "" {
				continue
			}
			key := run + "/" + task.Tags[tagAttempt]
			if first, ok := seen[key]; ok {
				t.Errorf("attempt %s has two tasks: %s and %s", key, first, task.ARN)
			}
			seen[key] = task.ARN
		}
	})
	if _, err := ep.api.pools.ApplyWorkPool(callCtx(t), connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: ecsPoolName, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS,
	})); err != nil {
		t.Fatalf("apply the ecs pool: %v", err)
	}
	return ep
}

// ecsAgentConfig is what a test sets in an ecs agent's config file beyond
// the defaults of [ecsPlane.startECSAgent].
type ecsAgentConfig struct {
	// capacity defaults to 8.
	capacity int
	// callTimeout is ecs.call_timeout; zero keeps 5s.
	callTimeout time.Duration
	// logInterval is ecs.log_interval; zero keeps 100ms.
	logInterval time.Duration
}

// ecsAgent is a ferry-agent of the ecs pool, driven by a config file so
// that it can be started again exactly as before.
type ecsAgent struct {
	name       string
	configFile string
	proc       *proc
}

// startECSAgent starts a ferry-agent of the ecs pool whose SDK reaches the
// fake with its static test credentials, and nothing of the machine's AWS
// configuration.
func (ep *ecsPlane) startECSAgent(t *testing.T, cfg ecsAgentConfig) *ecsAgent {
	t.Helper()
	if cfg.capacity == 0 {
		cfg.capacity = 8
	}
	if cfg.callTimeout == 0 {
		cfg.callTimeout = 5 * time.Second
	}
	if cfg.logInterval == 0 {
		cfg.logInterval = 100 * time.Millisecond
	}
	name := "ecs-" + uuid.NewString()[:8]
	doc := map[string]any{
		"server":            ep.url,
		"token_file":        ep.agentToken(t, ecsPoolName, name),
		"name":              name,
		"capacity":          cfg.capacity,
		"work_dir":          t.TempDir(),
		"log_level":         "debug",
		"shutdown_grace":    "1s",
		"trusted_keys_file": ep.trustedKeys(t),
		"ecs": map[string]any{
			"account_id":         awsfake.AccountID,
			"region":             awsfake.Region,
			"endpoint":           ep.aws.URL,
			"cluster":            ecsCluster,
			"other_clusters":     []string{ecsOtherCluster},
			"launch_type":        "FARGATE",
			"subnets":            []string{"subnet-e2e"},
			"security_groups":    []string{"sg-e2e"},
			"execution_role_arn": "arn:aws:iam::" + awsfake.AccountID + ":role/ferry-e2e-exec",
			"cpu":                256,
			"memory":             ecsMemory,
			"log_group":          ecsLogGroup,
			"tags":               map[string]string{"suite": "e2e"},
			"poll_interval":      "100ms",
			"log_interval":       cfg.logInterval.String(),
			"call_timeout":       cfg.callTimeout.String(),
		},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatalf("encode agent config: %v", err)
	}
	a := &ecsAgent{name: name, configFile: filepath.Join(t.TempDir(), "agent.yaml")}
	if err := os.WriteFile(a.configFile, b, 0o600); err != nil {
		t.Fatalf("write agent config: %v", err)
	}
	fmt.Fprintf(ep.logs, "agent %s config:\n%s", name, b)
	a.start(t, ep)
	return a
}

// start starts the agent's process, again after a kill.
func (a *ecsAgent) start(t *testing.T, ep *ecsPlane) {
	t.Helper()
	dir := t.TempDir()
	env := []string{
		"AWS_ACCESS_KEY_ID=" + awsfake.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsfake.SecretAccessKey,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_REGION=", "AWS_DEFAULT_REGION=",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	a.proc = startProc(t, ep.logs, "agent "+a.name, env, ep.agent, "--config", a.configFile)
}

// deploy applies a deployment of the ecs pool running the task words of
// [taskScript].
func (ep *ecsPlane) deploy(t *testing.T, name string, timeout time.Duration, words ...string) {
	t.Helper()
	spec := &ferryv1.DeploymentSpec{
		Pool: ecsPoolName, Image: ecsImage, Command: append([]string{"task"}, words...),
		Container: &ferryv1.ContainerSpec{StopGrace: durationpb.New(time.Second)},
	}
	if timeout > 0 {
		spec.Timeout = durationpb.New(timeout)
	}
	if _, err := ep.api.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: name, Spec: spec,
	})); err != nil {
		t.Fatalf("apply deployment %s: %v", name, err)
	}
}

// startRun creates a run of deployment, with the job variables of vars
// joined (none when empty), and returns its id.
func (ep *ecsPlane) startRun(t *testing.T, deployment string, vars ...string) string {
	t.Helper()
	resp, err := ep.api.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
		Run: &ferryv1.RunTemplate{Deployment: deployment, JobVariables: strings.Join(vars, "")},
	}))
	if err != nil {
		t.Fatalf("create a run of %s: %v", deployment, err)
	}
	return resp.Msg.GetRun().GetId()
}

// tasksOf returns the fake's tasks of run id, in creation order.
func (ep *ecsPlane) tasksOf(id string) []awsfake.ECSTask {
	var out []awsfake.ECSTask
	for _, task := range ep.ecs.Tasks() {
		if task.Tags[tagRunID] == id {
			out = append(out, task)
		}
	}
	return out
}

// onlyTask returns the single task of run id, failing the test unless the
// run has exactly one.
func (ep *ecsPlane) onlyTask(t *testing.T, id string) awsfake.ECSTask {
	t.Helper()
	tasks := ep.tasksOf(id)
	if len(tasks) != 1 {
		t.Fatalf("run %s has %d tasks, want 1: %+v", id, len(tasks), tasks)
	}
	return tasks[0]
}

// callsFor counts the calls of target whose body holds the field key with
// the string value.
func (ep *ecsPlane) callsFor(target, key, value string) int {
	n := 0
	for _, c := range ep.aws.Calls(target) {
		if strings.Contains(string(c.Body), fmt.Sprintf("%q:%q", key, value)) {
			n++
		}
	}
	return n
}

// waitLines waits until at least n lines of run id are stored.
func (ep *ecsPlane) waitLines(t *testing.T, id string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d lines of run %s are stored", n, id), func() error {
		got, err := ep.q.LogLinesListAll(callCtx(t), uuid.MustParse(id))
		if err != nil {
			return err
		}
		if len(got) < n {
			return fmt.Errorf("%d lines stored", len(got))
		}
		return nil
	})
}

func TestECSRunOutcomes(t *testing.T) {
	t.Parallel()
	ep := startECSPlane(t, steadyLease)
	ep.startECSAgent(t, ecsAgentConfig{})

	tests := []struct {
		name    string
		words   []string
		timeout time.Duration
		want    ferryv1.RunState
		// wantName is the run's state name; wantMessage a part of its state
		// message.
		wantName    string
		wantMessage string
		// wantExit is the exit code, or nil when none is known.
		wantExit *int32
		// wantLines are the lines stored, when they are checked.
		wantLines []string
		// wantStop is a part of the reason of a StopTask call for the
		// run's task; empty when none is expected.
		wantStop string
	}{
		{
			// More lines than one GetLogEvents page of the fake, so the
			// continuation tokens are followed.
			name:      "completes with its lines in order",
			words:     []string{"lines=130", "interval=1ms"},
			want:      completed,
			wantName:  "Completed",
			wantExit:  exit(0),
			wantLines: outLines(130),
		},
		{
			name:        "exit code 1",
			words:       []string{"lines=2", "exit=1"},
			want:        failed,
			wantName:    "Failed",
			wantMessage: "exited with code 1",
			wantExit:    exit(1),
			wantLines:   outLines(2),
		},
		{
			name:        "out of memory",
			words:       []string{"lines=1", "end=oom"},
			want:        failed,
			wantName:    "Failed",
			wantMessage: fmt.Sprintf("out of memory: the task's limit is %d MiB", ecsMemory),
			wantExit:    exit(137),
			wantLines:   outLines(1),
		},
		{
			name:        "no capacity",
			words:       []string{"end=capacity"},
			want:        crashed,
			wantName:    "Crashed",
			wantMessage: "ECS stopped the task: " + awsfake.CapacityReason,
		},
		{
			name:        "spot interruption",
			words:       []string{"lines=1", "end=spot"},
			want:        crashed,
			wantName:    "Crashed",
			wantMessage: "ECS stopped the task: " + awsfake.SpotReason,
			wantLines:   outLines(1),
		},
		{
			name:        "timeout",
			words:       []string{"lines=1", "end=never"},
			timeout:     time.Second,
			want:        failed,
			wantName:    "TimedOut",
			wantMessage: "timed out after 1s",
			wantExit:    exit(143),
			wantLines:   outLines(1),
			wantStop:    "timed out after 1s",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("outcome-%d", i)
			ep.deploy(t, name, tt.timeout, tt.words...)
			id := ep.startRun(t, name)

			r := waitRun(t, ep.api, id, tt.want)
			if r.GetStateName() != tt.wantName || !strings.Contains(r.GetStateMessage(), tt.wantMessage) {
				t.Errorf("run ended %v named %q with message %q, want %v named %q with a message containing %q",
					r.GetState(), r.GetStateName(), r.GetStateMessage(), tt.want, tt.wantName, tt.wantMessage)
			}
			if diff := cmp.Diff(tt.wantExit, r.ExitCode); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if tt.wantLines != nil {
				if err := invariant.CheckLogs(callCtx(t), ep.q, uuid.MustParse(id), 1, tt.wantLines); err != nil {
					t.Error(err)
				}
			}
			task := ep.onlyTask(t, id)
			if r.GetInfrastructureId() != task.ARN {
				t.Errorf("run's infrastructure id %q, want its task %s", r.GetInfrastructureId(), task.ARN)
			}
			if task.LastStatus != "STOPPED" {
				t.Errorf("task is %s after the run ended, want STOPPED", task.LastStatus)
			}
			stops := ep.callsFor(awsfake.TargetStopTask, "task", task.ARN)
			switch {
			case tt.wantStop == "" && stops != 0:
				t.Errorf("%d StopTask calls for a task that ended on its own, want none", stops)
			case tt.wantStop != "" && (stops == 0 || !strings.Contains(task.StoppedReason, tt.wantStop)):
				t.Errorf("%d StopTask calls, stop reason %q; want the task stopped with a reason containing %q",
					stops, task.StoppedReason, tt.wantStop)
			}
		})
	}

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ep.deploy(t, "forever", 0, "lines=1", "end=never")
		id := ep.startRun(t, "forever")
		waitRun(t, ep.api, id, running)
		ep.waitLines(t, id, 1)

		if _, err := ep.api.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{
			Id: id, Reason: "e2e cancel",
		})); err != nil {
			t.Fatalf("cancel run: %v", err)
		}
		r := waitRun(t, ep.api, id, cancelled)
		if r.GetStateName() != "Cancelled" {
			t.Errorf("cancelled run named %q, want Cancelled", r.GetStateName())
		}
		task := ep.onlyTask(t, id)
		if task.LastStatus != "STOPPED" || task.StopCode != "UserInitiated" ||
			!strings.Contains(task.StoppedReason, "e2e cancel") {
			t.Errorf("task %s (%s, %q), want STOPPED by the user with the cancel reason",
				task.LastStatus, task.StopCode, task.StoppedReason)
		}
		if n := ep.callsFor(awsfake.TargetStopTask, "task", task.ARN); n != 1 {
			t.Errorf("%d StopTask calls for the task, want 1", n)
		}
		if err := invariant.CheckLogs(callCtx(t), ep.q, uuid.MustParse(id), 1, outLines(1)); err != nil {
			t.Error(err)
		}
	})
}

// TestECSThrottlingStorm throttles every operation the agent uses while
// runs start and end: the SDK's retries absorb it, every run completes with
// its lines once, and RunTask is called once per run plus once per
// throttled answer, no more.
func TestECSThrottlingStorm(t *testing.T) {
	t.Parallel()
	const runs = 6
	// The throttled answers of each operation, all at once. Each is below
	// the SDK's five attempts per call, so no single call gives up: a log
	// read that gave up after its task stopped would lose lines, and the
	// SDK's growing backoff (up to 5s an attempt) would make the test slow.
	throttles := map[string]int{
		awsfake.TargetDescribeTaskDefinition: 2,
		awsfake.TargetRegisterTaskDefinition: 2,
		awsfake.TargetRunTask:                runs,
		awsfake.TargetDescribeTasks:          3,
		awsfake.TargetGetLogEvents:           4,
	}
	ep := startECSPlane(t, steadyLease)
	ep.deploy(t, "steady", 0, "lines=20", "interval=20ms")
	for target, n := range throttles {
		ep.aws.Throttle(target, n)
	}
	ep.startECSAgent(t, ecsAgentConfig{})

	ids := make([]string, runs)
	for i := range ids {
		ids[i] = ep.startRun(t, "steady")
	}
	for _, id := range ids {
		waitRun(t, ep.api, id, completed)
		if err := invariant.CheckLogs(callCtx(t), ep.q, uuid.MustParse(id), 1, outLines(20)); err != nil {
			t.Error(err)
		}
		ep.onlyTask(t, id)
	}
	want := runs + throttles[awsfake.TargetRunTask]
	if n := len(ep.aws.Calls(awsfake.TargetRunTask)); n != want {
		t.Errorf("%d RunTask calls, want %d: one per run and one per throttled answer", n, want)
	}
	for target, n := range throttles {
		if got := len(ep.aws.Calls(target)); got <= n {
			t.Errorf("%d %s calls, want more than the %d throttled ones", got, target, n)
		}
	}
}

// TestECSAgentKilledReadoptsTask kills the agent with SIGKILL while tasks
// run and starts it again: it finds each task by its tags, one in its own
// cluster and one that job variables placed in another cluster with another
// log group, stream prefix and container, follows each log from where the
// stored lines end, and never starts a second task.
func TestECSAgentKilledReadoptsTask(t *testing.T) {
	t.Parallel()
	const lines = 40
	ep := startECSPlane(t, steadyLease)
	agent := ep.startECSAgent(t, ecsAgentConfig{})
	ep.deploy(t, "ticker", 0, fmt.Sprintf("lines=%d", lines), "interval=100ms")
	ids := []string{ep.startRun(t, "ticker"), ep.startRun(t, "ticker", ecsOtherPlacement)}
	for _, id := range ids {
		waitRun(t, ep.api, id, running)
		ep.waitLines(t, id, 5)
	}
	if task := ep.onlyTask(t, ids[1]); task.Cluster != ecsOtherCluster || task.LogGroup != ecsOtherLogGroup ||
		!strings.HasPrefix(task.LogStream, "other/job/") {
		t.Fatalf("placed task is in cluster %s, logging to %s %s; want %s, %s, other/job/...",
			task.Cluster, task.LogGroup, task.LogStream, ecsOtherCluster, ecsOtherLogGroup)
	}

	agent.proc.kill(t)
	agent.start(t, ep)

	for _, id := range ids {
		r := waitRun(t, ep.api, id, completed)
		if err := invariant.CheckLogs(callCtx(t), ep.q, uuid.MustParse(id), 1, outLines(lines)); err != nil {
			t.Errorf("run %s: %v", id, err)
		}
		task := ep.onlyTask(t, id)
		if r.GetInfrastructureId() != task.ARN {
			t.Errorf("run's infrastructure id %q, want its task %s", r.GetInfrastructureId(), task.ARN)
		}
		if n := ep.callsFor(awsfake.TargetRunTask, "startedBy", task.StartedBy); n != 1 {
			t.Errorf("%d RunTask calls for run %s, want 1", n, id)
		}
		if n := ep.callsFor(awsfake.TargetStopTask, "task", task.ARN); n != 0 {
			t.Errorf("%d StopTask calls for the re-adopted task %s, want none", n, task.ARN)
		}
	}
	if agent.proc.exited() {
		t.Errorf("the restarted agent exited: %v", agent.proc.err)
	}
}

// TestECSOrphanStoppedOnRestart cancels runs while their agent is down, so
// that each ends when its lease expires with its task still running: one in
// the agent's cluster, one that job variables placed in another. The
// restarted agent stops both tasks, naming their runs, and leaves alone the
// other tasks of the cluster: one of another agent, one not Ferry's.
func TestECSOrphanStoppedOnRestart(t *testing.T) {
	t.Parallel()
	ep := startECSPlane(t, shortLease)
	agent := ep.startECSAgent(t, ecsAgentConfig{})
	ep.deploy(t, "forever", 0, "lines=1", "end=never")
	ids := []string{ep.startRun(t, "forever"), ep.startRun(t, "forever", ecsOtherPlacement)}
	for _, id := range ids {
		waitRun(t, ep.api, id, running)
		ep.waitLines(t, id, 1)
	}
	task := ep.onlyTask(t, ids[0])
	if placed := ep.onlyTask(t, ids[1]); placed.Cluster != ecsOtherCluster {
		t.Fatalf("placed task is in cluster %s, want %s", placed.Cluster, ecsOtherCluster)
	}

	// Tasks of the same cluster that this agent must not touch.
	client := awsecs.NewFromConfig(ep.aws.Config())
	foreign := func(startedBy string, tags map[string]string) string {
		t.Helper()
		in := &awsecs.RunTaskInput{
			Cluster: aws.String(ecsCluster), TaskDefinition: aws.String(task.TaskDefinition),
			LaunchType: ecstypes.LaunchTypeFargate, StartedBy: aws.String(startedBy),
			NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
				Subnets: []string{"subnet-e2e"},
			}},
		}
		for k, v := range tags {
			in.Tags = append(in.Tags, ecstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out, err := client.RunTask(callCtx(t), in)
		if err != nil {
			t.Fatalf("RunTask by %s: %v", startedBy, err)
		}
		return aws.ToString(out.Tasks[0].TaskArn)
	}
	otherRun := uuid.NewString()
	otherAgent := foreign("ferry-"+otherRun[:32], map[string]string{
		tagRunID: otherRun, tagAttempt: "1", tagAgent: "ecs-other", "ferry:lease-token": "1",
		"ferry:timeout": "0s", "ferry:stop-grace": "1s",
	})
	unrelated := foreign("deploy-bot", nil)

	agent.proc.kill(t)
	for _, id := range ids {
		if _, err := ep.api.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{
			Id: id, Reason: "cancelled while the agent was down",
		})); err != nil {
			t.Fatalf("cancel run: %v", err)
		}
	}
	// No agent confirms the stop; each run ends when its lease expires.
	for _, id := range ids {
		waitRun(t, ep.api, id, cancelled)
		if task := ep.onlyTask(t, id); task.LastStatus != "RUNNING" {
			t.Fatalf("task of run %s is %s before the agent is back, want RUNNING", id, task.LastStatus)
		}
	}

	agent.start(t, ep)
	for _, id := range ids {
		eventually(t, "the restarted agent stops the task of ended run "+id, func() error {
			if task := ep.onlyTask(t, id); task.LastStatus != "STOPPED" {
				return fmt.Errorf("task is %s", task.LastStatus)
			}
			return nil
		})
		task := ep.onlyTask(t, id)
		if task.StopCode != "UserInitiated" || !strings.Contains(task.StoppedReason, "run "+id+" attempt 1") {
			t.Errorf("task stopped with code %s and reason %q, want a stop by the agent naming run %s attempt 1",
				task.StopCode, task.StoppedReason, id)
		}
		if n := ep.callsFor(awsfake.TargetStopTask, "task", task.ARN); n != 1 {
			t.Errorf("%d StopTask calls for the task %s, want 1", n, task.ARN)
		}
		eventually(t, "the agent logs the stop", func() error {
			ep.logs.mu.Lock()
			defer ep.logs.mu.Unlock()
			for line := range strings.SplitSeq(ep.logs.buf.String(), "\n") {
				if strings.Contains(line, "task of an ended run stopped") && strings.Contains(line, id) {
					return nil
				}
			}
			return fmt.Errorf("no log line says the task of run %s was stopped", id)
		})
		if r := waitRun(t, ep.api, id, cancelled); r.GetAttempt() != 1 {
			t.Errorf("run is at attempt %d, want 1", r.GetAttempt())
		}
		if n := ep.callsFor(awsfake.TargetRunTask, "startedBy", task.StartedBy); n != 1 {
			t.Errorf("%d RunTask calls for the run, want 1", n)
		}
	}
	for _, arn := range []string{otherAgent, unrelated} {
		if n := ep.callsFor(awsfake.TargetStopTask, "task", arn); n != 0 {
			t.Errorf("%d StopTask calls for %s, which is not this agent's", n, arn)
		}
	}
	for _, task := range ep.ecs.Tasks() {
		if (task.ARN == otherAgent || task.ARN == unrelated) && task.LastStatus != "RUNNING" {
			t.Errorf("task %s started by %s is %s, want it left RUNNING", task.ARN, task.StartedBy, task.LastStatus)
		}
	}
	if agent.proc.exited() {
		t.Errorf("the restarted agent exited: %v", agent.proc.err)
	}
}

// TestECSBurstWithSlowRunTask submits 150 runs at once while RunTask
// answers only after the agent's call timeout: each start times out, the
// agent finds the task it created by listing, and no run crashes or gets a
// second task.
func TestECSBurstWithSlowRunTask(t *testing.T) {
	t.Parallel()
	const runs = 150
	ep := startECSPlane(t, steadyLease,
		"FERRY_RATE_LIMIT=1000", "FERRY_RATE_BURST=1000",
		"FERRY_AGENT_RATE_LIMIT=5000", "FERRY_AGENT_RATE_BURST=5000")
	ep.deploy(t, "burst", 0, "lines=2", "hold=100ms")
	ep.ecs.SlowRunTask(4 * time.Second)
	ep.startECSAgent(t, ecsAgentConfig{capacity: runs, callTimeout: 3 * time.Second, logInterval: time.Second})

	ids := make([]string, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 10 {
		wg.Go(func() {
			for i := range next {
				resp, err := ep.api.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
					Run: &ferryv1.RunTemplate{Deployment: "burst"},
				}))
				if err != nil {
					t.Errorf("create run %d: %v", i, err)
					continue
				}
				ids[i] = resp.Msg.GetRun().GetId()
			}
		})
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The wait is long: 150 runs on a loaded machine, each start held by
	// the slow RunTask.
	deadline := time.Now().Add(3 * waitTimeout)
	for {
		var done, ended int
		err := ep.pool.QueryRow(callCtx(t), `
			SELECT count(*) FILTER (WHERE state = 'COMPLETED'),
			       count(*) FILTER (WHERE state IN ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'))
			FROM runs`).Scan(&done, &ended)
		if err != nil {
			t.Fatalf("count runs: %v", err)
		}
		if ended == runs {
			if done != runs {
				t.Errorf("%d of %d runs completed", done, runs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d runs have ended", 3*waitTimeout, ended, runs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var crashes int
	if err := ep.pool.QueryRow(callCtx(t),
		`SELECT count(*) FROM run_state_changes WHERE to_state = 'CRASHED'`).Scan(&crashes); err != nil {
		t.Fatalf("count crashes: %v", err)
	}
	if crashes != 0 {
		t.Errorf("%d runs went through CRASHED, want none", crashes)
	}
	for _, id := range ids {
		task := ep.onlyTask(t, id)
		if task.LastStatus != "STOPPED" {
			t.Errorf("task of run %s is %s, want STOPPED", id, task.LastStatus)
		}
	}
	if n := len(ep.aws.Calls(awsfake.TargetRunTask)); n < runs {
		t.Errorf("%d RunTask calls, want at least one per run (%d)", n, runs)
	}
	// Each start timed out, so the agent looked for its task by startedBy.
	var lookups int
	for _, c := range ep.aws.Calls(awsfake.TargetListTasks) {
		if strings.Contains(string(c.Body), `"startedBy":"ferry-`) {
			lookups++
		}
	}
	if lookups < runs {
		t.Errorf("%d ListTasks calls by startedBy, want at least one per run (%d): the slow RunTask did not time out",
			lookups, runs)
	}
}
