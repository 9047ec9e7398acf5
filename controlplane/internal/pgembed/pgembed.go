// Package pgembed runs a PostgreSQL cluster as a child process, built from the
// PostgreSQL server binaries already installed on the machine. It backs
// `ferry server` when no database URL is given, and the test harness.
//
// The cluster listens only on a unix socket, never on TCP, and trusts every
// local connection, so it must never hold data that other local users may not
// read. pgembed never downloads binaries and never touches files outside the
// directory it is given, apart from a private socket directory under /tmp when
// that directory's path is too long for a unix socket.
package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// defaultStartTimeout bounds initdb plus server start; both take about a
	// second on a development machine, crash recovery after a kill a few more.
	defaultStartTimeout = 60 * time.Second

	// defaultStopTimeout is how long a fast shutdown may take before the
	// server is killed. Fast shutdown ends sessions at once, so only a large
	// checkpoint takes longer than a few seconds.
	defaultStopTimeout = 30 * time.Second

	// port only names the socket file (.s.PGSQL.5432); no TCP port is opened,
	// and the socket directory belongs to this cluster alone.
	port = 5432

	// maxConnections leaves room for several control plane replicas and a
	// test process that opens a pool per test database.
	maxConnections = 200

	// maxSocketPath is the longest unix socket path Linux accepts: sun_path
	// holds 108 bytes including the terminating NUL.
	maxSocketPath = 107

	// superuser is the role initdb creates and every connection uses.
	superuser = "postgres"

	// readyPollInterval spaces the connection attempts made while waiting
	// for the server to accept connections.
	readyPollInterval = 25 * time.Millisecond

	// readyAttemptTimeout bounds one of those attempts.
	readyAttemptTimeout = 5 * time.Second
)

// Config describes the cluster [Start] runs.
type Config struct {
	// Dir holds the cluster: the data directory Dir/pgdata, the server log
	// Dir/postgres.log and the unix socket. It is created when missing, and
	// handed to the postgres user when the caller is root. Required. When
	// its path is too long for a unix socket, the socket goes to a private
	// directory under /tmp instead, removed by [Cluster.Stop]. Only one
	// process at a time may run the cluster in Dir.
	Dir string

	// Logger receives lifecycle events (initdb, start, stop). Nil discards them.
	Logger *slog.Logger

	// Stdout and Stderr, when not nil, receive a copy of the output of
	// initdb and postgres, which always goes to Dir/postgres.log.
	Stdout io.Writer
	Stderr io.Writer

	// Fast turns off fsync, synchronous_commit and full_page_writes. A
	// crash of the machine (not of the process) can then corrupt the
	// cluster, so it is for tests only. Default false.
	Fast bool

	// BinDir is the directory holding initdb and postgres. Empty means
	// search PATH, then /usr/lib/postgresql/*/bin, newest version first.
	BinDir string

	// StartTimeout bounds how long [Start] waits for initdb and for the
	// server to accept connections. Zero means 60 seconds.
	StartTimeout time.Duration
}

// Cluster is a running PostgreSQL server started by [Start]. Its methods
// are safe for concurrent use.
type Cluster struct {
	logger    *slog.Logger
	dataDir   string
	socketDir string
	// privateSocketDir reports whether socketDir was created under /tmp
	// because Dir was too long, and must be removed on stop.
	privateSocketDir bool
	logFile          *os.File
	dirLock          *os.File // holds an exclusive flock on Dir/pgembed.lock
	cmd              *exec.Cmd

	done    chan struct{} // closed once the postgres process has exited
	waitErr error         // the process's exit status; read after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start runs the cluster described by cfg and returns once it accepts
// connections. It creates the cluster with initdb when Dir/pgdata holds
// none, and reuses it otherwise. When the calling process runs as root,
// initdb and postgres run as the "postgres" system user, which must be able
// to traverse every existing parent of Dir; the parents Start creates get
// mode 0755 so it can, and nothing is created when it cannot.
//
// The server is started with a parent-death signal, so it shuts down when
// the calling process dies without calling [Cluster.Stop].
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgembed: Config.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: resolve %s: %w", cfg.Dir, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := time.Now()

	dataDir := filepath.Join(dir, "pgdata")
	initialized, err := clusterVersion(dataDir)
	if err != nil {
		return nil, err
	}
	bins, err := locateBinaries(ctx, cfg.BinDir, initialized)
	if err != nil {
		return nil, err
	}
	owner, err := serverOwner()
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, owner); err != nil {
		return nil, err
	}

	c := &Cluster{
		logger:    logger,
		dataDir:   dataDir,
		socketDir: dir,
		done:      make(chan struct{}),
	}
	c.dirLock, err = lockDir(dir)
	if err != nil {
		return nil, err
	}
	if len(filepath.Join(dir, socketName)) > maxSocketPath {
		c.socketDir, err = makePrivateSocketDir(owner)
		if err != nil {
			c.cleanup(ctx)
			return nil, err
		}
		c.privateSocketDir = true
	}
	c.logFile, err = os.OpenFile(filepath.Join(dir, "postgres.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.cleanup(ctx)
		return nil, fmt.Errorf("pgembed: open server log: %w", err)
	}

	if err := c.start(ctx, cfg, bins, owner, initialized); err != nil {
		c.cleanup(ctx)
		return nil, err
	}
	logger.InfoContext(ctx, "postgres started",
		slog.String("data_dir", c.dataDir),
		slog.String("socket_dir", c.socketDir),
		slog.Int("version", bins.major),
		slog.Duration("duration", time.Since(began)))
	return c, nil
}

// start creates the cluster if needed, launches postgres and waits until
// it accepts connections.
func (c *Cluster) start(
	ctx context.Context,
	cfg Config,
	bins binaries,
	owner *credential,
	initialized int,
) error {
	if initialized == 0 {
		if err := c.initdb(ctx, cfg, bins, owner); err != nil {
			return err
		}
	} else if initialized != bins.major {
		return fmt.Errorf("pgembed: cluster in %s was created by PostgreSQL %d but the "+
			"server binaries in %s are PostgreSQL %d; install PostgreSQL %d or upgrade the "+
			"cluster with pg_upgrade", c.dataDir, initialized, bins.dir, bins.major,
			initialized)
	}

	for _, lock := range []string{
		filepath.Join(c.dataDir, "postmaster.pid"),
		filepath.Join(c.socketDir, socketName+".lock"),
	} {
		if err := removeStaleLock(lock); err != nil {
			return err
		}
	}

	args := []string{
		"-D", c.dataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + c.socketDir,
		"-c", "unix_socket_permissions=0700",
		"-c", "max_connections=" + strconv.Itoa(maxConnections),
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	}
	if cfg.Fast {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off")
	}
	cmd := exec.Command(bins.postgres, args...)
	c.configure(cmd, cfg, owner)
	setDeathSignal(cmd.SysProcAttr)
	c.cmd = cmd
	if err := c.launch(); err != nil {
		return fmt.Errorf("pgembed: start %s: %w", bins.postgres, err)
	}
	if err := c.waitReady(ctx); err != nil {
		c.kill(ctx)
		return err
	}
	return nil
}

// launch starts the postgres process from a goroutine locked to its OS
// thread. Linux sends the parent-death signal when the thread that forked
// the child exits, so that thread must live exactly as long as the child:
// the goroutine waits for the process and then exits still locked, which
// ends the thread.
func (c *Cluster) launch() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			close(c.done)
			return
		}
		started <- nil
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	return <-started
}

// initdb creates the cluster in a scratch directory and renames it into
// place, so that a failed or interrupted initdb never leaves a half-made
// data directory behind.
func (c *Cluster) initdb(ctx context.Context, cfg Config, bins binaries, owner *credential) error {
	began := time.Now()
	if err := removeEmptyDir(c.dataDir); err != nil {
		return err
	}
	scratch := c.dataDir + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("pgembed: remove leftover %s: %w", scratch, err)
	}

	args := []string{
		"-D", scratch,
		"-U", superuser,
		"-A", "trust",
		"-E", "UTF8",
		"--no-locale",
		"--no-instructions",
	}
	if cfg.Fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, bins.initdb, args...)
	c.configure(cmd, cfg, owner)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgembed: initdb in %s: %w; output follows:\n%s",
			scratch, err, logTail(c.logFile.Name()))
	}
	if err := os.Rename(scratch, c.dataDir); err != nil {
		return fmt.Errorf("pgembed: move new cluster into place: %w", err)
	}
	c.logger.InfoContext(ctx, "postgres cluster created",
		slog.String("data_dir", c.dataDir),
		slog.Int("version", bins.major),
		slog.Duration("duration", time.Since(began)))
	return nil
}

// configure sets what initdb and postgres share: the user they run as,
// their working directory and where their output goes.
func (c *Cluster) configure(cmd *exec.Cmd, cfg Config, owner *credential) {
	// Both programs resolve their own path from the working directory,
	// which must therefore be readable by the user they run as.
	cmd.Dir = filepath.Dir(c.dataDir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = teeWriter(c.logFile, cfg.Stdout)
	cmd.Stderr = teeWriter(c.logFile, cfg.Stderr)
	// Backends inherit the output pipes when a copy goes to cfg.Stdout or
	// cfg.Stderr; do not let a slow backend exit hold up Wait for long.
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if owner != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: owner.uid, Gid: owner.gid}
	}
}

// waitReady polls until the server accepts a connection, the process exits
// or ctx ends.
func (c *Cluster) waitReady(ctx context.Context) error {
	connString := c.ConnString("postgres")
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, readyAttemptTimeout)
		conn, err := pgx.Connect(attemptCtx, connString)
		cancel()
		if err == nil {
			// The server is ready; a failure to close this probe does not
			// change that.
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("pgembed: postgres exited during start (%v); log follows:\n%s",
				c.waitErr, logTail(c.logFile.Name()))
		case <-ctx.Done():
			return fmt.Errorf("pgembed: postgres did not accept connections: %w "+
				"(last attempt: %v); log follows:\n%s",
				context.Cause(ctx), err, logTail(c.logFile.Name()))
		case <-ticker.C:
		}
	}
}

// ConnString returns a connection URL for database dbname on this cluster,
// usable by pgx, psql and libpq.
func (c *Cluster) ConnString(dbname string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(superuser),
		Path:   "/" + dbname,
		RawQuery: url.Values{
			"host":    {c.socketDir},
			"port":    {strconv.Itoa(port)},
			"sslmode": {"disable"},
		}.Encode(),
	}
	return u.String()
}

// Done returns a channel that is closed when the postgres process exits,
// whether stopped by [Cluster.Stop] or not.
func (c *Cluster) Done() <-chan struct{} {
	return c.done
}

// Stop shuts the server down with a fast shutdown (SIGINT: sessions are
// ended and a checkpoint is written), waiting until ctx ends or 30 seconds
// pass; then it kills the server with SIGKILL. When ctx has already ended,
// Stop kills at once. The next start then recovers from the WAL.
//
// Stop returns an error when the server had to be killed or had exited on
// its own with a failure. Calls after the first return the first result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stop(ctx)
		c.cleanup(ctx)
	})
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context) error {
	select {
	case <-c.done:
		if c.waitErr != nil {
			return fmt.Errorf("pgembed: postgres had exited before stop: %w", c.waitErr)
		}
		return nil
	default:
	}

	began := time.Now()
	if ctx.Err() == nil {
		err := c.cmd.Process.Signal(os.Interrupt)
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("pgembed: signal postgres: %w", err)
		}
		timer := time.NewTimer(defaultStopTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
			c.logger.InfoContext(ctx, "postgres stopped",
				slog.String("data_dir", c.dataDir),
				slog.Duration("duration", time.Since(began)))
			if c.waitErr != nil {
				return fmt.Errorf("pgembed: postgres shutdown: %w", c.waitErr)
			}
			return nil
		case <-ctx.Done():
		case <-timer.C:
		}
	}

	c.kill(ctx)
	c.logger.WarnContext(ctx, "postgres killed",
		slog.String("data_dir", c.dataDir),
		slog.Duration("duration", time.Since(began)))
	return fmt.Errorf("pgembed: postgres in %s did not shut down in time and was killed",
		c.dataDir)
}

// kill sends SIGKILL and waits for the process to be reaped.
func (c *Cluster) kill(ctx context.Context) {
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.logger.WarnContext(ctx, "postgres kill", slog.String("error", err.Error()))
	}
	<-c.done
}

// cleanup releases what Start acquired besides the process.
func (c *Cluster) cleanup(ctx context.Context) {
	if c.logFile != nil {
		c.logFile.Close()
	}
	if c.dirLock != nil {
		c.dirLock.Close()
	}
	if c.privateSocketDir {
		if err := os.RemoveAll(c.socketDir); err != nil {
			c.logger.WarnContext(ctx, "remove socket directory",
				slog.String("socket_dir", c.socketDir),
				slog.String("error", err.Error()))
		}
	}
}

// teeWriter returns w alone, or w and extra together when extra is set.
func teeWriter(w *os.File, extra io.Writer) io.Writer {
	if extra == nil {
		return w
	}
	return io.MultiWriter(w, extra)
}

// logTailBytes is how much of the server log an error message quotes.
const logTailBytes = 4096

// logTail returns the end of the log file at path, for error messages.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	offset := max(info.Size()-logTailBytes, 0)
	b := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(b, offset); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	return string(b)
}
