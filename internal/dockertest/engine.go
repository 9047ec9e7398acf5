// Package dockertest runs a private Docker engine for tests, builds small test
// images from Go packages of this repository, and runs a local image registry
// with password authentication.
//
// The engine is started on first use by [Start] and shared by every test of
// the test process; [Main] stops it when the tests are done. It runs as a
// child of the test process, with its state in a fresh directory under /tmp,
// its own containerd, no default bridge and no iptables rules, so that several
// test processes can each run one side by side without touching the host's
// engine, if any. It needs root and the dockerd binary (Debian's docker.io).
//
// When dockerd is missing or cannot start, [Start] skips the test with a
// message saying why, unless FERRY_REQUIRE_DOCKER=1 is set (as in CI), in
// which case it fails the test. Under -short it always skips.
package dockertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// RequireEnv is the environment variable that, set to 1, turns a missing or
// broken Docker engine from a skipped test into a failed one.
const RequireEnv = "FERRY_REQUIRE_DOCKER"

const (
	// startTimeout bounds how long dockerd may take to answer its first ping.
	// It usually takes about a second; a loaded CI machine can take far more.
	startTimeout = 60 * time.Second
	// stopTimeout is how long dockerd has to shut down after SIGTERM before it
	// is killed. Its own shutdown timeout for containers is set lower.
	stopTimeout = 30 * time.Second
	// containerShutdownTimeout is dockerd's --shutdown-timeout, in seconds:
	// how long running containers get to stop when the engine shuts down.
	containerShutdownTimeout = "2"
	// installHint says how to get dockerd on the project's machines.
	installHint = "install the Docker engine with `apt-get install -y --no-install-recommends docker.io` " +
		"and run the tests as root"
)

// Engine is a running Docker engine private to the test process. Its methods
// are safe for concurrent use.
type Engine struct {
	dir    string
	host   string
	driver string
	cmd    *exec.Cmd
	exited <-chan struct{} // closed once dockerd has exited
	client *client.Client

	mu     sync.Mutex
	images map[string]string // tag → path of the program inside the image
}

// shared is the engine of the test process.
var shared struct {
	once   sync.Once
	engine *Engine
	err    error
}

// Start returns the Docker engine shared by the test process, starting it on
// first use. It skips t (or fails it when [RequireEnv] is set) if the engine
// cannot run here, and always skips under -short. Call [Main] from TestMain
// so the engine is stopped at the end; if the test process dies first, the
// engine is sent SIGTERM by the kernel.
func Start(t testing.TB) *Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("dockertest: skipped under -short: the test needs a Docker engine")
	}
	shared.once.Do(func() { shared.engine, shared.err = start() })
	if shared.err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("dockertest: %v", shared.err)
		}
		t.Skipf("dockertest: %v (set %s=1 to fail instead of skipping)", shared.err, RequireEnv)
	}
	return shared.engine
}

// Main runs the tests of m, stops the shared engine if [Start] started it,
// and exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "dockertest: %v\n", err)
	}
	os.Exit(code)
}

// Stop stops the shared engine if [Start] started it. [Main] calls it; a
// TestMain that must also stop other shared fixtures calls it after m.Run
// instead of using Main.
func Stop() error {
	if e := shared.engine; e != nil {
		return e.stop()
	}
	return nil
}

// Host returns the engine's address in the form of DOCKER_HOST, such as
// "unix:///tmp/fdk123/docker.sock".
func (e *Engine) Host() string { return e.host }

// Client returns a client of the engine, with API version negotiation. It is
// shared: do not close it.
func (e *Engine) Client() *client.Client { return e.client }

// StorageDriver returns the storage driver the engine runs with: overlay2, or
// vfs where overlay2 is not available.
func (e *Engine) StorageDriver() string { return e.driver }

// start starts dockerd with overlay2 storage, falling back to vfs, and waits
// until it answers.
func start() (*Engine, error) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		return nil, fmt.Errorf("dockerd not found in PATH; %s", installHint)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("dockerd needs root and the tests run as uid %d; %s", os.Geteuid(), installHint)
	}
	// A short directory: the engine's unix sockets live under it, and socket
	// paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("/tmp", "fdk")
	if err != nil {
		return nil, fmt.Errorf("create engine directory: %w", err)
	}
	var errs []error
	for _, driver := range []string{"overlay2", "vfs"} {
		e, err := startWith(dir, driver)
		if err == nil {
			return e, nil
		}
		errs = append(errs, fmt.Errorf("with %s storage: %w", driver, err))
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("start dockerd: %w; %s", errors.Join(errs...), installHint)
}

// startWith starts dockerd with the given storage driver in a fresh
// sub-directory of dir.
func startWith(dir, driver string) (*Engine, error) {
	d := filepath.Join(dir, driver[:1])
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("create engine directory: %w", err)
	}
	logPath := filepath.Join(d, "dockerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create engine log: %w", err)
	}
	defer logFile.Close()

	sock := filepath.Join(d, "docker.sock")
	e := &Engine{
		dir:    dir,
		host:   "unix://" + sock,
		driver: driver,
		images: make(map[string]string),
	}
	e.cmd = exec.Command("dockerd",
		"--data-root", filepath.Join(d, "root"),
		"--exec-root", filepath.Join(d, "exec"),
		"--pidfile", filepath.Join(d, "dockerd.pid"),
		"-H", e.host,
		"--iptables=false", "--ip6tables=false",
		// No docker0: engines of several test processes would fight over it.
		"--bridge=none",
		"--storage-driver="+driver,
		"--shutdown-timeout="+containerShutdownTimeout,
	)
	e.cmd.Stdout = logFile
	e.cmd.Stderr = logFile
	e.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group keeps a terminal's Ctrl-C from reaching it
		// before the tests have cleaned up; Pdeathsig stops it if the test
		// process dies without calling Main.
		Setpgid:   true,
		Pdeathsig: syscall.SIGTERM,
	}
	e.exited, err = spawn(e.cmd)
	if err != nil {
		return nil, fmt.Errorf("run dockerd: %w", err)
	}

	e.client, err = client.NewClientWithOpts(client.WithHost(e.host), client.WithAPIVersionNegotiation())
	if err != nil {
		_ = e.kill()
		return nil, fmt.Errorf("create engine client: %w", err)
	}
	if err := e.waitReady(); err != nil {
		_ = e.kill()
		return nil, fmt.Errorf("%w; dockerd log:\n%s", err, logTail(logPath))
	}
	return e, nil
}

// waitReady polls the engine until it answers a ping, exits or takes too long.
func (e *Engine) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := e.client.Ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not answer within %s: %w", startTimeout, err)
		}
		select {
		case <-e.exited:
			return fmt.Errorf("dockerd exited during start: %s", e.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the engine down (SIGTERM, then SIGKILL after stopTimeout) and
// removes its directory.
func (e *Engine) stop() error {
	_ = e.client.Close()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop dockerd: %w", err)
	}
	select {
	case <-e.exited:
	case <-time.After(stopTimeout):
		if err := e.kill(); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		return fmt.Errorf("remove engine directory: %w", err)
	}
	return nil
}

// kill kills dockerd and waits for it to exit.
func (e *Engine) kill() error {
	if err := e.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill dockerd: %w", err)
	}
	<-e.exited
	return nil
}

// logTail returns the last lines of the file at path, for error messages.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// spawn starts cmd, whose SysProcAttr may ask for Pdeathsig, and returns a
// channel closed once it has exited and been reaped.
func spawn(cmd *exec.Cmd) (<-chan struct{}, error) {
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, so the
		// forking thread stays locked to this goroutine until the child exits.
		runtime.LockOSThread()
		defer close(exited)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}
