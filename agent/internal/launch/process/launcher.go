package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/clock"
)

// defaultPath is the PATH of [DefaultBaseEnv] when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// escapedOutputWait is how long output pipes are still read after a run's
// process group is gone. Only a process that left the group can still hold
// them open, and it must not keep the run from ending.
const escapedOutputWait = 5 * time.Second

// Config configures a [Launcher].
type Config struct {
	// BaseEnv is the environment, as KEY=VALUE pairs, that every run starts
	// from before the job's own variables are added. Nil means
	// [DefaultBaseEnv]; an empty, non-nil slice means nothing. The agent's own
	// environment is never passed on as a whole: it may hold credentials.
	BaseEnv []string
	// Logger receives the launcher's own events; nil discards them.
	Logger *slog.Logger
	// MaxLineBytes is the longest output line kept whole, in bytes; zero means
	// [launch.DefaultMaxLineBytes].
	MaxLineBytes int
	// Clock measures timeouts and stop grace periods and stamps log lines;
	// nil means the real, monotonic clock.
	Clock clock.Clock
}

// DefaultBaseEnv returns the base environment used when [Config.BaseEnv] is
// nil: the agent's PATH and HOME (or common defaults when unset) and
// LANG=C.UTF-8. Nothing else from the agent's environment is passed on.
func DefaultBaseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/"
	}
	return []string{"PATH=" + path, "HOME=" + home, "LANG=C.UTF-8"}
}

// Launcher runs jobs as local child processes. It is safe for concurrent use.
type Launcher struct {
	baseEnv      []string
	logger       *slog.Logger
	maxLineBytes int
	clk          clock.Clock
}

var _ launch.Launcher = (*Launcher)(nil)

// New returns a [Launcher] configured by cfg, or an error if cfg is invalid.
//
// The first call marks the agent process as a child subreaper
// (PR_SET_CHILD_SUBREAPER), a process-wide setting: processes orphaned by a
// run are re-parented to the agent, which reaps them when the run ends. If
// that fails, New logs a warning and runs still work, but their orphans may
// linger as zombies under an init that does not reap.
func New(cfg Config) (*Launcher, error) {
	if cfg.MaxLineBytes < 0 {
		return nil, fmt.Errorf("process launcher: max line bytes %d is negative", cfg.MaxLineBytes)
	}
	l := &Launcher{
		baseEnv:      cfg.BaseEnv,
		logger:       cfg.Logger,
		maxLineBytes: cfg.MaxLineBytes,
		clk:          cfg.Clock,
	}
	if l.baseEnv == nil {
		l.baseEnv = DefaultBaseEnv()
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.clk == nil {
		l.clk = clock.Real{}
	}
	for _, kv := range l.baseEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("process launcher: base environment entry %q is not KEY=VALUE", kv)
		}
	}

	if err := becomeSubreaper(); err != nil {
		l.logger.WarnContext(context.Background(), "orphaned run processes will not be reaped",
			slog.String("error", err.Error()))
	}
	return l, nil
}

// Start renders the job's command, starts it in a new session and process
// group with the job's environment and working directory, and returns its
// [launch.Handle]. The run's timeout starts counting now. A command that
// cannot be found or executed, a template error and a malformed environment
// are reported as errors wrapping [launch.ErrInvalidJob]. ctx bounds only the
// start.
func (l *Launcher) Start(ctx context.Context, job launch.Job, sink launch.LogSink) (launch.Handle, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	args, err := launch.RenderArgs(job.Command, job.ParametersJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: render command: %w", launch.ErrInvalidJob, err)
	}
	env, err := job.Environ(l.baseEnv)
	if err != nil {
		return nil, err
	}
	if err := checkWorkingDir(job.WorkingDir); err != nil {
		return nil, err
	}
	path, err := lookPath(args[0], envValue(env, "PATH"), job.WorkingDir)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start command %q: %w", args[0], context.Cause(ctx))
	}

	stdout := launch.NewLineWriter(launch.StreamStdout, sink, l.maxLineBytes, l.clk)
	stderr := launch.NewLineWriter(launch.StreamStderr, sink, l.maxLineBytes, l.clk)
	cmd := &exec.Cmd{
		Path:   path,
		Args:   args,
		Env:    env,
		Dir:    job.WorkingDir,
		Stdout: stdout,
		Stderr: stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// A new session also makes a new process group, and keeps the run
			// from joining the agent's group or reaching its terminal.
			Setsid:    true,
			Pdeathsig: syscall.SIGKILL,
		},
		WaitDelay: escapedOutputWait,
	}
	onSpawnThread(func() { err = cmd.Start() })
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
			errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.E2BIG) {
			return nil, fmt.Errorf("%w: start command %q: %w", launch.ErrInvalidJob, args[0], err)
		}
		return nil, fmt.Errorf("start command %q: %w", args[0], err)
	}

	h := &handle{
		cmd:       cmd,
		pid:       cmd.Process.Pid,
		runID:     job.RunID,
		attempt:   job.Attempt,
		timeout:   job.Timeout,
		grace:     job.EffectiveStopGrace(),
		sink:      sink,
		stdout:    stdout,
		stderr:    stderr,
		clk:       l.clk,
		logger:    l.logger,
		logCtx:    context.WithoutCancel(ctx),
		cancelReq: make(chan struct{}),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	var deadline <-chan time.Time
	if job.Timeout > 0 {
		deadline = l.clk.After(job.Timeout)
	}
	go h.supervise(deadline)
	l.logger.DebugContext(ctx, "process started", h.logAttrs()...)
	return h, nil
}

// checkWorkingDir reports an error wrapping [launch.ErrInvalidJob] unless dir
// is empty or an existing directory.
func checkWorkingDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: working directory: %w", launch.ErrInvalidJob, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: working directory %q is not a directory", launch.ErrInvalidJob, dir)
	}
	return nil
}

// lookPath finds the executable for the command name the way a shell would,
// but in the PATH of the run's environment rather than the agent's. A name
// with a slash is taken as a path, relative to dir when dir is set. Relative
// PATH entries are ignored, so that a run never executes a program from an
// unexpected current directory.
func lookPath(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) {
			base := dir
			if base == "" {
				wd, err := os.Getwd()
				if err != nil {
					return "", fmt.Errorf("resolve command %q: %w", name, err)
				}
				base = wd
			}
			path = filepath.Join(base, path)
		}
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("%w: command %q %w", launch.ErrInvalidJob, name, err)
		}
		return path, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(d) {
			continue
		}
		path := filepath.Join(d, name)
		if checkExecutable(path) == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: command %q not found in PATH", launch.ErrInvalidJob, name)
}

var (
	errNotFound      = errors.New("not found")
	errIsDirectory   = errors.New("is a directory")
	errNotExecutable = errors.New("is not executable")
)

// checkExecutable reports why path cannot be executed, if it cannot.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errNotFound
	case err != nil:
		return err
	case fi.IsDir():
		return errIsDirectory
	case fi.Mode().Perm()&0o111 == 0:
		return errNotExecutable
	}
	return nil
}

// envValue returns the value of key in env, a list of KEY=VALUE pairs.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
