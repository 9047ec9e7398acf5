package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// Settings of the docker phase.
const (
	// dockerBenchPool and its deployment run the payload image.
	dockerBenchPool = "bench-docker-engine"
	// dockerBenchImage is the image both sides run: the payload program
	// of internal/dockertest alone, which exits 0 at once without flags.
	dockerBenchImage   = "ferry-bench-payload:1"
	dockerBenchCommand = "/payload"
	payloadPackage     = "./internal/dockertest/payload"
	// dockerWarmup runs of each kind go untimed, so that neither side pays
	// for a cold engine, cache or connection.
	dockerWarmup = 3
	// dockerRunTimeout bounds one timed run of either kind.
	dockerRunTimeout = time.Minute
	// dockerdStartTimeout bounds the start of a private engine.
	dockerdStartTimeout = 60 * time.Second
	// processStopTimeout is how long dockerd and the agent have to exit
	// after SIGTERM before they are killed.
	processStopTimeout = 30 * time.Second
)

// dockerPhase measures the launch overhead the agent adds to a container:
// the p50 of a Ferry run of the payload image (CreateRun called until
// WatchRun shows it COMPLETED, launched by a real ferry-agent) less the p50
// of `docker run --rm` of the same image and command through the engine's
// API (create, start, wait until exited and removed), each run
// sequentially. It uses the engine at -docker-host, or starts a private
// dockerd; with neither available it says so in a comment and measures
// nothing.
func dockerPhase(ctx context.Context, e *env) error {
	eng, skip, err := openEngine(ctx, e.cfg.dockerHost)
	if err != nil {
		return err
	}
	if skip != "" {
		e.note("docker: skipped: %s", skip)
		return nil
	}
	defer func() {
		if serr := eng.close(); serr != nil {
			e.note("docker: %v", serr)
		}
	}()
	if err := importPayload(ctx, eng.cli, eng.dir); err != nil {
		return err
	}

	agent, err := startBenchAgent(ctx, e, eng)
	if err != nil {
		return err
	}
	defer agent.stop()

	direct := make([]time.Duration, 0, e.cfg.dockerRuns)
	viaFerry := make([]time.Duration, 0, e.cfg.dockerRuns)
	for i := range dockerWarmup + e.cfg.dockerRuns {
		d, err := timeDockerRun(ctx, eng.cli)
		if err != nil {
			return err
		}
		f, err := timeFerryRun(ctx, e)
		if err != nil {
			return fmt.Errorf("%w; the agent's log ends:\n%s", err, agent.tail())
		}
		if i >= dockerWarmup {
			direct = append(direct, d)
			viaFerry = append(viaFerry, f)
		}
	}
	directP50, ferryP50 := percentile(direct, 50), percentile(viaFerry, 50)
	e.note("docker: engine %s, image %s, command %s, %d sequential runs of each kind",
		eng.host, dockerBenchImage, dockerBenchCommand, e.cfg.dockerRuns)
	e.note("docker: docker run --rm p50 %.1f ms (create, start, wait until exited and removed)", millis(directP50))
	e.note("docker: Ferry run p50 %.1f ms (CreateRun called until WatchRun shows COMPLETED)", millis(ferryP50))
	e.figure("docker_launch_overhead_p50_ms", millis(ferryP50-directP50))
	return nil
}

// timeDockerRun times what `docker run --rm IMAGE` does, less attaching
// to the output: create, start, and wait until the container has exited
// and been removed.
func timeDockerRun(ctx context.Context, cli *client.Client) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerRunTimeout)
	defer cancel()
	start := time.Now()
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: dockerBenchImage, Entrypoint: []string{dockerBenchCommand}},
		&container.HostConfig{AutoRemove: true}, nil, nil, "")
	if err != nil {
		return 0, fmt.Errorf("create container: %w", err)
	}
	// As the docker command does for --rm, the wait is set up before the
	// start and ends once the container is gone.
	waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionRemoved)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, fmt.Errorf("start container: %w", err)
	}
	select {
	case res := <-waitC:
		if res.Error != nil || res.StatusCode != 0 {
			return 0, fmt.Errorf("container exited with code %d (%v)", res.StatusCode, res.Error)
		}
	case err := <-errC:
		return 0, fmt.Errorf("wait for container: %w", err)
	}
	return time.Since(start), nil
}

// timeFerryRun times one run of the payload deployment from the call of
// CreateRun until WatchRun shows it COMPLETED.
func timeFerryRun(ctx context.Context, e *env) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerRunTimeout)
	defer cancel()
	start := time.Now()
	resp, err := e.admin.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{
		Run: &ferryv1.RunTemplate{Deployment: dockerBenchPool},
	}))
	if err != nil {
		return 0, fmt.Errorf("create run: %w", err)
	}
	id := resp.Msg.GetRun().GetId()
	stream, err := e.admin.runs.WatchRun(ctx, connect.NewRequest(&ferryv1.WatchRunRequest{Id: id}))
	if err != nil {
		return 0, fmt.Errorf("watch run %s: %w", id, err)
	}
	defer stream.Close()
	for stream.Receive() {
		r := stream.Msg().GetRun()
		switch r.GetState() {
		case ferryv1.RunState_RUN_STATE_COMPLETED:
			return time.Since(start), nil
		case ferryv1.RunState_RUN_STATE_FAILED, ferryv1.RunState_RUN_STATE_CRASHED,
			ferryv1.RunState_RUN_STATE_CANCELLED:
			return 0, fmt.Errorf("run %s ended %v: %s", id, r.GetState(), r.GetStateMessage())
		}
	}
	if err := stream.Err(); err != nil {
		return 0, fmt.Errorf("watch run %s: %w", id, err)
	}
	return 0, fmt.Errorf("watch of run %s ended before the run did", id)
}

// benchEngine is the Docker engine of the phase.
type benchEngine struct {
	cli  *client.Client
	host string
	// dir is a scratch directory, removed by close; it holds the private
	// engine's state when the phase started one.
	dir string
	// stopd stops the private engine; nil for an engine given by address.
	stopd func() error
}

// openEngine connects to the engine at host, or starts a private dockerd
// when host is empty. skip says why there is no engine when none can be
// had here.
func openEngine(ctx context.Context, host string) (eng *benchEngine, skip string, err error) {
	dir, err := os.MkdirTemp("/tmp", "fbd")
	if err != nil {
		return nil, "", fmt.Errorf("create engine directory: %w", err)
	}
	eng = &benchEngine{host: host, dir: dir}
	if host == "" {
		if _, err := exec.LookPath("dockerd"); err != nil {
			os.RemoveAll(dir)
			return nil, "dockerd is not installed (apt-get install docker.io) and -docker-host is not set", nil
		}
		if os.Geteuid() != 0 {
			os.RemoveAll(dir)
			return nil, "a private dockerd needs root; set -docker-host to use a running engine", nil
		}
		if eng.host, eng.stopd, err = startDockerd(dir); err != nil {
			os.RemoveAll(dir)
			return nil, "", err
		}
	}
	eng.cli, err = client.NewClientWithOpts(client.WithHost(eng.host), client.WithAPIVersionNegotiation())
	if err == nil {
		err = waitPing(ctx, eng.cli)
	}
	if err != nil {
		cerr := eng.close()
		return nil, "", errors.Join(fmt.Errorf("docker engine %s: %w", eng.host, err), cerr)
	}
	return eng, "", nil
}

// close releases the client, stops a private engine and removes the
// scratch directory.
func (b *benchEngine) close() error {
	var errs []error
	if b.cli != nil {
		errs = append(errs, b.cli.Close())
	}
	if b.stopd != nil {
		errs = append(errs, b.stopd())
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove engine directory: %w", err))
	}
	return errors.Join(errs...)
}

// startDockerd starts a dockerd with its state under dir, no bridge and no
// iptables rules, so it touches nothing of the host's networking or of
// another engine, and returns its address and how to stop it.
func startDockerd(dir string) (host string, stop func() error, err error) {
	sock := filepath.Join(dir, "docker.sock")
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return "", nil, fmt.Errorf("create engine log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("dockerd",
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", "unix://"+sock,
		"--iptables=false", "--ip6tables=false", "--bridge=none", "--shutdown-timeout=2")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps a terminal's Ctrl-C away; the parent-death
	// signal stops it if the driver dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	exited, err := startTied(cmd)
	if err != nil {
		return "", nil, fmt.Errorf("start dockerd: %w", err)
	}
	return "unix://" + sock, func() error { return stopProcess(cmd, exited) }, nil
}

// startTied starts cmd, whose parent-death signal fires when the thread
// that started it ends; that thread stays locked to a goroutine until cmd
// exits. The returned channel is closed once cmd has exited.
func startTied(cmd *exec.Cmd) (<-chan struct{}, error) {
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(exited)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	return exited, <-started
}

// stopProcess sends SIGTERM, and SIGKILL after processStopTimeout.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", cmd.Path, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(processStopTimeout):
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", cmd.Path, err)
	}
	<-exited
	return nil
}

// waitPing waits until the engine answers.
func waitPing(ctx context.Context, cli *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, dockerdStartTimeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Ping(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s: %w", dockerdStartTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// importPayload compiles the payload program into a static binary and
// imports it into the engine as dockerBenchImage, an image holding nothing
// else.
func importPayload(ctx context.Context, cli *client.Client, dir string) error {
	bin := filepath.Join(dir, "payload")
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	build := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", bin, payloadPackage)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the payload (run the driver from the repository root): %w\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read the payload: %w", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	hdr := &tar.Header{Name: dockerBenchCommand[1:], Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write the payload layer: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write the payload layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write the payload layer: %w", err)
	}
	body, err := cli.ImageImport(ctx, image.ImportSource{Source: &layer, SourceName: "-"},
		dockerBenchImage, image.ImportOptions{})
	if err != nil {
		return fmt.Errorf("import the payload image: %w", err)
	}
	defer body.Close()
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("import the payload image: %w", err)
	}
	return nil
}

// benchAgent is the ferry-agent process of the phase.
type benchAgent struct {
	cmd     *exec.Cmd
	exited  <-chan struct{}
	logPath string
}

// startBenchAgent sets up the docker pool and its deployment, and starts a
// ferry-agent for it that trusts the server's signing keys.
func startBenchAgent(ctx context.Context, e *env, eng *benchEngine) (*benchAgent, error) {
	if _, err := e.admin.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: dockerBenchPool, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER, Description: "load driver",
	})); err != nil {
		return nil, fmt.Errorf("apply pool %s: %w", dockerBenchPool, err)
	}
	if _, err := e.admin.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: dockerBenchPool,
		Spec: &ferryv1.DeploymentSpec{
			Pool: dockerBenchPool, Image: dockerBenchImage, Command: []string{dockerBenchCommand},
			Container:   &ferryv1.ContainerSpec{PullPolicy: ferryv1.PullPolicy_PULL_POLICY_NEVER},
			Description: "no-op container for the load driver",
		},
	})); err != nil {
		return nil, fmt.Errorf("apply deployment %s: %w", dockerBenchPool, err)
	}
	tok, err := e.admin.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{
		Pool: dockerBenchPool, Name: "bench-docker",
	}))
	if err != nil {
		return nil, fmt.Errorf("create agent token for %s: %w", dockerBenchPool, err)
	}
	hc, err := newHTTPClient(e.cfg.proto, e.srv.AdminKey())
	if err != nil {
		return nil, err
	}
	defer closeIdle(hc)
	keys, err := ferryv1connect.NewSigningKeyServiceClient(hc, e.srv.URL()).
		ListSigningKeys(ctx, connect.NewRequest(&ferryv1.ListSigningKeysRequest{}))
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	keysJSON, err := protojson.Marshal(keys.Msg)
	if err != nil {
		return nil, fmt.Errorf("encode signing keys: %w", err)
	}

	files := map[string][]byte{"token": []byte(tok.Msg.GetSecret()), "trusted-keys.json": keysJSON}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(eng.dir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	config, err := yaml.Marshal(map[string]any{
		"server":            e.srv.URL(),
		"token_file":        filepath.Join(eng.dir, "token"),
		"trusted_keys_file": filepath.Join(eng.dir, "trusted-keys.json"),
		"name":              "bench-docker",
		"capacity":          1,
		"work_dir":          eng.dir,
		"log_level":         "warn",
		"docker":            map[string]any{"host": eng.host},
	})
	if err != nil {
		return nil, fmt.Errorf("encode agent config: %w", err)
	}
	configPath := filepath.Join(eng.dir, "agent.yaml")
	if err := os.WriteFile(configPath, config, 0o600); err != nil {
		return nil, fmt.Errorf("write agent config: %w", err)
	}

	a := &benchAgent{logPath: filepath.Join(eng.dir, "agent.log")}
	logFile, err := os.Create(a.logPath)
	if err != nil {
		return nil, fmt.Errorf("create agent log: %w", err)
	}
	defer logFile.Close()
	a.cmd = exec.Command(e.cfg.agent, "--config", configPath)
	a.cmd.Stdout, a.cmd.Stderr = logFile, logFile
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if a.exited, err = startTied(a.cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", e.cfg.agent, err)
	}
	return a, nil
}

// stop stops the agent.
func (a *benchAgent) stop() { _ = stopProcess(a.cmd, a.exited) }

// agentLogTail is how much of the end of the agent's log an error shows.
const agentLogTail = 4096

// tail returns the end of the agent's log, for an error message.
func (a *benchAgent) tail() string {
	data, err := os.ReadFile(a.logPath)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return string(data[max(0, len(data)-agentLogTail):])
}
