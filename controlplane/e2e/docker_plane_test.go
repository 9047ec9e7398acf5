package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/internal/dockertest"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// The images the Docker tests run, built once per test process.
const (
	// payloadImage holds dockertest's payload program, whose flags make it
	// print, sleep, ignore SIGTERM, run out of memory or exit as asked.
	payloadImage = "ferry-e2e-payload:1"
	// secretEchoImage holds the secretecho program of testdata, which
	// prints environment variables in the forms a program may leak them.
	secretEchoImage   = "ferry-e2e-secretecho:1"
	secretEchoPackage = "github.com/ferryhq/ferry/controlplane/e2e/testdata/secretecho"
)

// dockerPoolName is the docker work pool of every Docker test.
const dockerPoolName = "containers"

// dockerStopGrace is the stop grace of the Docker tests' containers. The
// engine counts it in whole seconds, so one second is the shortest.
const dockerStopGrace = time.Second

// Labels the docker launcher puts on its containers.
const (
	labelRunID = "ferry.run_id"
	labelAgent = "ferry.agent"
)

// dockerPlane is a real control plane with a docker work pool, and the
// private Docker engine its agents launch containers on.
type dockerPlane struct {
	*realPlane
	engine *dockertest.Engine
	// payload is the payload program's path in payloadImage.
	payload string
	api     clients
	// since is shortly before the test began, to read the engine's event
	// history of the test's runs.
	since time.Time
}

// startDockerPlane starts a control plane with a docker pool named
// [dockerPoolName]. It skips the test when no Docker engine can run here,
// unless FERRY_REQUIRE_DOCKER=1 is set.
func startDockerPlane(t *testing.T, lease time.Duration, serverEnv ...string) *dockerPlane {
	t.Helper()
	engine := dockertest.Start(t)
	since := time.Now().Add(-time.Second)
	payload := engine.BuildImage(t, payloadImage, dockertest.PayloadPackage)
	rp := startRealPlane(t, lease, serverEnv...)
	dp := &dockerPlane{realPlane: rp, engine: engine, payload: payload, api: rp.api(t), since: since}
	if _, err := dp.api.pools.ApplyWorkPool(callCtx(t), connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: dockerPoolName, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER,
	})); err != nil {
		t.Fatalf("apply the docker pool: %v", err)
	}
	return dp
}

// deploy applies a deployment of the docker pool. The spec's image
// defaults to [payloadImage] and its stop grace to [dockerStopGrace].
func (dp *dockerPlane) deploy(t *testing.T, name string, spec *ferryv1.DeploymentSpec) {
	t.Helper()
	spec.Pool = dockerPoolName
	if spec.Image == "" {
		spec.Image = payloadImage
	}
	if spec.Container == nil {
		spec.Container = &ferryv1.ContainerSpec{}
	}
	if spec.Container.StopGrace == nil {
		spec.Container.StopGrace = durationpb.New(dockerStopGrace)
	}
	if _, err := dp.api.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: name, Spec: spec,
	})); err != nil {
		t.Fatalf("apply deployment %s: %v", name, err)
	}
}

// startRun creates a run of deployment and returns its id.
func (dp *dockerPlane) startRun(t *testing.T, deployment string) string {
	t.Helper()
	resp, err := dp.api.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
		Run: &ferryv1.RunTemplate{Deployment: deployment},
	}))
	if err != nil {
		t.Fatalf("create a run of %s: %v", deployment, err)
	}
	return resp.Msg.GetRun().GetId()
}

// agentConfig is what a test sets in a docker agent's config file beyond
// the server, token, name and engine.
type agentConfig struct {
	// trustedKeysFile replaces the server's signing keys when set.
	trustedKeysFile string
	// policy is the agent's policy.config; nil keeps the defaults.
	policy map[string]any
	// awsEndpoint is secrets.aws_endpoint; empty means AWS itself.
	awsEndpoint string
	// env is added to the agent's environment.
	env []string
}

// dockerAgent is a ferry-agent of the docker pool, driven by a config file
// so that it can be started again exactly as before.
type dockerAgent struct {
	name       string
	configFile string
	env        []string
	proc       *proc
}

// startDockerAgent starts a ferry-agent of the docker pool under a name of
// its own, which keeps tests that share the engine from seeing each other's
// containers. The containers it leaves are removed at cleanup.
func (dp *dockerPlane) startDockerAgent(t *testing.T, cfg agentConfig) *dockerAgent {
	t.Helper()
	name := "dk-" + uuid.NewString()[:8]
	keys := cfg.trustedKeysFile
	if keys == "" {
		keys = dp.trustedKeys(t)
	}
	doc := map[string]any{
		"server":            dp.url,
		"token_file":        dp.agentToken(t, dockerPoolName, name),
		"name":              name,
		"capacity":          4,
		"work_dir":          t.TempDir(),
		"log_level":         "debug",
		"shutdown_grace":    "1s",
		"trusted_keys_file": keys,
		"docker":            map[string]any{"host": dp.engine.Host()},
	}
	if cfg.policy != nil {
		doc["policy"] = map[string]any{"config": cfg.policy}
	}
	if cfg.awsEndpoint != "" {
		doc["secrets"] = map[string]any{"aws_endpoint": cfg.awsEndpoint}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatalf("encode agent config: %v", err)
	}
	a := &dockerAgent{name: name, configFile: filepath.Join(t.TempDir(), "agent.yaml"), env: cfg.env}
	if err := os.WriteFile(a.configFile, b, 0o600); err != nil {
		t.Fatalf("write agent config: %v", err)
	}
	fmt.Fprintf(dp.logs, "agent %s config:\n%s", name, b)
	// Registered before the agent starts, so it runs after the agent is
	// killed.
	t.Cleanup(func() { dp.removeContainers(t, name) })
	a.start(t, dp)
	return a
}

// start starts the agent's process, again after a kill.
func (a *dockerAgent) start(t *testing.T, dp *dockerPlane) {
	t.Helper()
	a.proc = startProc(t, dp.logs, "agent "+a.name, a.env, dp.agent, "--config", a.configFile)
}

// containersOf lists the containers of run id, stopped ones included.
func (dp *dockerPlane) containersOf(t *testing.T, id string) []container.Summary {
	t.Helper()
	list, err := dp.engine.Client().ContainerList(callCtx(t), container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", labelRunID+"="+id)),
	})
	if err != nil {
		t.Fatalf("list the containers of run %s: %v", id, err)
	}
	return list
}

// waitNoContainer waits until no container of run id exists.
func (dp *dockerPlane) waitNoContainer(t *testing.T, id string) {
	t.Helper()
	eventually(t, "the containers of run "+id+" are removed", func() error {
		if list := dp.containersOf(t, id); len(list) > 0 {
			return fmt.Errorf("container %s is %s", list[0].ID, list[0].State)
		}
		return nil
	})
}

// containersCreated counts the containers the engine created for run id
// since the test began, from the engine's event history, which also
// remembers containers removed since.
func (dp *dockerPlane) containersCreated(t *testing.T, id string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	until := time.Now()
	msgs, errs := dp.engine.Client().Events(ctx, events.ListOptions{
		Since: strconv.FormatInt(dp.since.Unix(), 10),
		Until: fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
		Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)),
			filters.Arg("event", string(events.ActionCreate)),
			filters.Arg("label", labelRunID+"="+id),
		),
	})
	n := 0
	for {
		select {
		case <-msgs:
			n++
		case err := <-errs:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read the engine's events: %v", err)
			}
			return n
		}
	}
}

// removeContainers removes every container of agent name.
func (dp *dockerPlane) removeContainers(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cli := dp.engine.Client()
	list, err := cli.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", labelAgent+"="+name)),
	})
	if err != nil {
		t.Errorf("list the containers of agent %s: %v", name, err)
		return
	}
	for _, c := range list {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	}
}

// outputLines returns the stored lines of attempt 1 of run id on stream,
// in order.
func (dp *dockerPlane) outputLines(t *testing.T, id string, stream ferryv1.LogStream) []string {
	t.Helper()
	lines, err := dp.q.LogLinesListAll(callCtx(t), uuid.MustParse(id))
	if err != nil {
		t.Fatalf("read the log lines of run %s: %v", id, err)
	}
	var out []string
	for _, l := range lines {
		if l.Attempt == 1 && l.Stream == int16(stream) {
			out = append(out, l.Text)
		}
	}
	return out
}

// waitLines waits until at least n lines of run id are stored.
func (dp *dockerPlane) waitLines(t *testing.T, id string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d lines of run %s are stored", n, id), func() error {
		got, err := dp.q.LogLinesListAll(callCtx(t), uuid.MustParse(id))
		if err != nil {
			return err
		}
		if len(got) < n {
			return fmt.Errorf("%d lines stored", len(got))
		}
		return nil
	})
}
