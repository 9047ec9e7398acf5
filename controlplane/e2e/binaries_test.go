package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// The binaries under test, built once per test process by [buildBinaries].
var (
	buildOnce sync.Once
	bin       struct{ ferry, agent string }
	buildErr  error
)

// binDir holds the built binaries. Each build replaces them atomically by
// renaming, so repeated test runs do not pile up copies, and a process
// still running an older copy is not disturbed.
var binDir = filepath.Join(os.TempDir(), "ferry-e2e-bin")

// buildBinaries builds ferry and ferry-agent (with the race detector when
// the tests have it) and returns their paths. It skips the test under -short.
func buildBinaries(t *testing.T) (ferry, agent string) {
	t.Helper()
	if testing.Short() {
		t.Skip("the binary tests do not run under -short")
	}
	buildOnce.Do(func() {
		if err := os.MkdirAll(binDir, 0o755); err != nil {
			buildErr = fmt.Errorf("create binary directory: %w", err)
			return
		}
		build := func(pkg, name string) (string, error) {
			tmp, err := os.CreateTemp(binDir, name+".*.tmp")
			if err != nil {
				return "", fmt.Errorf("create %s: %w", name, err)
			}
			tmp.Close()
			args := []string{"build", "-o", tmp.Name()}
			if raceEnabled {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, pkg)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				os.Remove(tmp.Name())
				return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			}
			final := filepath.Join(binDir, name)
			if raceEnabled {
				final += "-race"
			}
			if err := os.Rename(tmp.Name(), final); err != nil {
				return "", fmt.Errorf("install %s: %w", name, err)
			}
			return final, nil
		}
		bin.ferry, buildErr = build("github.com/ferryhq/ferry/controlplane/cmd/ferry", "ferry")
		if buildErr == nil {
			bin.agent, buildErr = build("github.com/ferryhq/ferry/agent/cmd/ferry-agent", "ferry-agent")
		}
	})
	if buildErr != nil {
		t.Fatalf("build binaries: %v", buildErr)
	}
	return bin.ferry, bin.agent
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a process that must listen on the same address again after a
// restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proc is a started binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// startProc starts a binary with its output going to logs, and registers
// a cleanup that kills it with SIGKILL if it still runs.
func startProc(t *testing.T, logs io.Writer, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &prefixWriter{w: logs, prefix: name + ": "}
	cmd.Stdout, cmd.Stderr = out, out
	// Children of the binary may hold its output pipe open after it died.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Errorf("%s did not exit after SIGKILL", p.name)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// prefixWriter writes each line of a process's output with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	rest   []byte
}

// Write prefixes every complete line of p.
func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Fprintf(w.w, "%s%s\n", w.prefix, w.rest[:i])
		w.rest = w.rest[i+1:]
	}
}

// realPlane is a ferry server process on a database that survives it, so
// that it can be killed and started again.
type realPlane struct {
	ferry, agent string
	logs         *testLog
	addr         string
	url          string
	dataDir      string
	dbURL        string
	lease        time.Duration
	server       *proc
	serverEnv    []string // extra environment of the server process
	pool         *pgxpool.Pool
	q            db.Querier
}

// startRealPlane starts ferry server with the given lease duration, waits
// until it is ready, and registers the invariant check of its database.
func startRealPlane(t *testing.T, lease time.Duration, serverEnv ...string) *realPlane {
	t.Helper()
	ferry, agent := buildBinaries(t)
	dbURL := dbtest.ConnString(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(pool.Close)
	logs := newTestLog(t)
	t.Cleanup(func() { checkNoRace(t, logs) })
	checkInvariants(t, pool)
	rp := &realPlane{
		ferry: ferry, agent: agent, logs: logs, addr: freeAddr(t), dataDir: t.TempDir(),
		dbURL: dbURL, lease: lease, pool: pool, q: db.New(pool), serverEnv: serverEnv,
	}
	rp.url = "http://" + rp.addr
	rp.start(t)
	return rp
}

// start starts the server process and waits until it answers /readyz.
func (rp *realPlane) start(t *testing.T) {
	t.Helper()
	rp.server = startProc(t, rp.logs, "ferry server",
		append([]string{"FERRY_KEEPALIVE_INTERVAL=1s", "FERRY_OFFER_TTL=3s", "FERRY_LOG_LEVEL=debug"}, rp.serverEnv...),
		rp.ferry, "server", "--addr", rp.addr, "--data-dir", rp.dataDir,
		"--database-url", rp.dbURL, "--lease-duration", rp.lease.String())
	eventually(t, "ferry server is ready", func() error {
		if rp.server.exited() {
			t.Fatalf("ferry server exited: %v", rp.server.err)
		}
		resp, err := http.Get(rp.url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
}

// cli runs the ferry command line against the server and returns its
// output and exit code.
func (rp *realPlane) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rp.ferry, args...)
	cmd.Env = append(os.Environ(), "FERRY_SERVER="+rp.url, "FERRY_DATA_DIR="+rp.dataDir, "FERRY_API_KEY=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
	}
	fmt.Fprintf(rp.logs, "$ ferry %s (exit %d)\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// mustCLI runs the ferry command line and fails the test unless it exits 0.
func (rp *realPlane) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := rp.cli(t, args...)
	if code != 0 {
		t.Fatalf("ferry %s exited %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// apply writes yaml to a file and applies it.
func (rp *realPlane) apply(t *testing.T, yaml string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatalf("write apply file: %v", err)
	}
	rp.mustCLI(t, "apply", "-f", path)
}

// startAgent issues a token for pool and starts ferry-agent with it,
// trusting the server's work-order signing keys.
func (rp *realPlane) startAgent(t *testing.T, pool, name string, capacity int) *proc {
	t.Helper()
	tokenFile := rp.agentToken(t, pool, name)
	return startProc(t, rp.logs, "agent "+name, nil, rp.agent,
		"--server", rp.url, "--token-file", tokenFile, "--name", name,
		"--trusted-keys-file", rp.trustedKeys(t),
		"--capacity", fmt.Sprint(capacity), "--work-dir", t.TempDir(),
		"--log-level", "debug", "--shutdown-grace", "1s")
}

// agentToken issues an agent token for pool and returns the file holding
// it, so that an agent restarted with the same file presents the same
// token.
func (rp *realPlane) agentToken(t *testing.T, pool, name string) string {
	t.Helper()
	secret := strings.TrimSpace(rp.mustCLI(t, "agent", "token", "create", "--pool", pool, "--name", name))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatalf("write token file: %v", err)
	}
	return tokenFile
}

// trustedKeys saves the server's work-order signing keys, as ferry keys ls
// --output agent prints them, in a file for the agents' --trusted-keys-file
// and returns its path.
func (rp *realPlane) trustedKeys(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trusted-keys")
	if err := os.WriteFile(path, []byte(rp.mustCLI(t, "keys", "ls", "--output", "agent")), 0o600); err != nil {
		t.Fatalf("write trusted keys file: %v", err)
	}
	return path
}

// checkNoRace fails the test if a binary built with the race detector
// reported a data race.
func checkNoRace(t *testing.T, logs *testLog) {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if bytes.Contains(logs.buf.Bytes(), []byte("WARNING: DATA RACE")) {
		t.Errorf("a binary reported a data race (see the logs)")
	}
}

// api returns API clients acting as the admin whose key the server saved
// in its data directory.
func (rp *realPlane) api(t *testing.T) clients {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(rp.dataDir, "admin-api-key"))
	if err != nil {
		t.Fatalf("read the admin API key: %v", err)
	}
	p := &plane{url: rp.url, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	t.Cleanup(p.http.CloseIdleConnections)
	return p.clientsFor(strings.TrimSpace(string(key)))
}

// groupAlive reports whether a process of group pgid is still alive (not
// a zombie), by scanning /proc.
func groupAlive(t *testing.T, pgid int) bool {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		// The fields after the command, which is in parentheses and may
		// hold spaces: state, ppid, pgrp, ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var (
			state       string
			ppid, group int
		)
		if _, err := fmt.Sscan(string(b[i+1:]), &state, &ppid, &group); err != nil {
			continue
		}
		if group == pgid && state != "Z" {
			return true
		}
	}
	return false
}
