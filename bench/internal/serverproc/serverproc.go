// Package serverproc runs a real `ferry server` process for the load driver:
// on a free loopback port, with its own data directory and embedded
// PostgreSQL, and stops it with SIGTERM. It never talks to a server it did
// not start.
package serverproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// adminKeyFile is where `ferry server` saves the admin key it creates
	// on first start, inside its data directory.
	adminKeyFile = "admin-api-key"
	// readyPoll spaces the /readyz probes made while the server starts.
	readyPoll = 50 * time.Millisecond
	// defaultStartTimeout bounds initdb, migrations and the first /readyz.
	defaultStartTimeout = 90 * time.Second
	// defaultStopTimeout is how long SIGTERM may take before SIGKILL.
	defaultStopTimeout = 60 * time.Second
)

// Config describes the server [Start] runs.
type Config struct {
	// Binary is the path of the ferry binary. Required.
	Binary string
	// Args are extra arguments after `server --addr A --data-dir D`.
	Args []string
	// Env is added to the driver's environment.
	Env []string
	// KeepData keeps the data directory after [Server.Stop]. Default false.
	KeepData bool
	// StartTimeout bounds the start. Zero means 90 seconds.
	StartTimeout time.Duration
}

// Server is a running `ferry server` process.
type Server struct {
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	dataDir  string
	url      string
	adminKey string
	keepData bool
}

// Start runs the server and returns once /readyz answers and the admin key
// is on disk. On error no process is left running.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// The embedded PostgreSQL runs as the postgres user when the driver
	// runs as root, and must traverse this directory.
	if err := os.Chmod(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("open up data directory: %w", err)
	}
	stdout, err := os.Create(filepath.Join(dataDir, "server.out"))
	if err != nil {
		return nil, fmt.Errorf("create server output file: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dataDir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("create server log file: %w", err)
	}
	defer stderr.Close()

	args := append([]string{"server", "--addr", addr, "--data-dir", dataDir}, cfg.Args...)
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The server dies with the driver if the driver is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Binary, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{}), dataDir: dataDir, url: "http://" + addr, keepData: cfg.KeepData}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := s.waitReady(sctx); err != nil {
		tail := s.tail()
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%w (server log: %s)", err, tail)
	}
	key, err := os.ReadFile(filepath.Join(dataDir, adminKeyFile))
	if err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("read admin key: %w", err)
	}
	s.adminKey = strings.TrimSpace(string(key))
	return s, nil
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("release port: %w", err)
	}
	return addr, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("build readiness probe: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("ferry server exited during start: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("ferry server not ready: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// URL returns the server's base URL, such as http://127.0.0.1:40123.
func (s *Server) URL() string { return s.url }

// AdminKey returns the admin API key the server created on first start.
func (s *Server) AdminKey() string { return s.adminKey }

// DataDir returns the server's data directory; its server.log holds the
// server's log.
func (s *Server) DataDir() string { return s.dataDir }

// DatabaseURL returns a connection URL for the server's embedded
// PostgreSQL: see [EmbeddedDatabaseURL].
func (s *Server) DatabaseURL() (string, error) { return EmbeddedDatabaseURL(s.dataDir) }

// EmbeddedDatabaseURL returns a connection URL for the embedded PostgreSQL
// of a `ferry server` running with dataDir, as its superuser, over the unix
// socket the cluster listens on (found in its postmaster.pid). The load
// driver and the web UI's scale test use it to seed data that would take
// too long to create through the API.
func EmbeddedDatabaseURL(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid"))
	if err != nil {
		return "", fmt.Errorf("read embedded PostgreSQL's postmaster.pid: %w", err)
	}
	// Line 5 of postmaster.pid is the socket directory, line 4 the port.
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 || strings.TrimSpace(lines[4]) == "" {
		return "", errors.New("postmaster.pid names no socket directory")
	}
	q := url.Values{
		"host": {strings.TrimSpace(lines[4])}, "port": {strings.TrimSpace(lines[3])},
		"user": {"postgres"}, "sslmode": {"disable"},
	}
	return (&url.URL{Scheme: "postgres", Path: "/postgres", RawQuery: q.Encode()}).String(), nil
}

// Keep keeps the data directory after [Server.Stop], so that the server's
// log can be read after a failure.
func (s *Server) Keep() { s.keepData = true }

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// RSS returns the server process's resident set size in KiB, read from
// VmRSS in /proc/PID/status. The embedded PostgreSQL runs in processes of
// its own and is not counted.
func (s *Server) RSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
		}
		return kib, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	return 0, errors.New("no VmRSS line in process status")
}

// CPUTime returns the user plus system CPU time used by the server
// process and, separately, by its descendants (the embedded PostgreSQL),
// read from /proc. A descendant that has exited is not counted.
func (s *Server) CPUTime() (server, descendants time.Duration, err error) {
	server, err = procCPUTime(s.PID())
	if err != nil {
		return 0, 0, err
	}
	for _, pid := range descendantPIDs(s.PID()) {
		// A process may exit between the listing and the read.
		if d, err := procCPUTime(pid); err == nil {
			descendants += d
		}
	}
	return server, descendants, nil
}

// procCPUTime reads utime plus stime of one process. It assumes the usual
// 100 clock ticks per second of Linux on amd64 and arm64.
func procCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis. utime and stime are fields 14
	// and 15 of the line, 12 and 13 after the state field.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("parse process stat %q", b)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse process stat field %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// descendantPIDs lists the live descendants of pid.
func descendantPIDs(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat.
const clockTicks = 100

// Stop sends SIGTERM, waits for the process to exit (SIGKILL after a minute
// or when ctx ends), and removes the data directory unless told to keep it.
// It returns an error when the server did not exit cleanly.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	select {
	case <-s.done:
	default:
		if serr := s.cmd.Process.Signal(syscall.SIGTERM); serr != nil {
			err = fmt.Errorf("signal ferry server: %w", serr)
		}
		timer := time.NewTimer(defaultStopTimeout)
		defer timer.Stop()
		select {
		case <-s.done:
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.done
			err = errors.New("ferry server ignored SIGTERM and was killed")
		case <-ctx.Done():
			_ = s.cmd.Process.Kill()
			<-s.done
			err = fmt.Errorf("ferry server killed: %w", context.Cause(ctx))
		}
	}
	if err == nil && s.waitErr != nil {
		err = fmt.Errorf("ferry server exited: %w (server log: %s)", s.waitErr, s.tail())
	}
	if !s.keepData {
		if rerr := os.RemoveAll(s.dataDir); rerr != nil && err == nil {
			err = fmt.Errorf("remove data directory: %w", rerr)
		}
	}
	return err
}

// tail returns the last lines of the server's log, for error messages.
func (s *Server) tail() string {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "server.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}
