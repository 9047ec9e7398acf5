package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/clock"
)

// callTimeout bounds each short call to the engine (create, start, inspect,
// list, remove). A healthy engine answers in milliseconds; a stuck one must
// not hold a run's supervision forever.
const callTimeout = 30 * time.Second

// Config configures a [Launcher].
type Config struct {
	// Client is the engine's API client. Nil means a client for Host, made
	// and closed by the launcher. A given client should negotiate the API
	// version (client.WithAPIVersionNegotiation), as engines in the field
	// are older than the client library.
	Client *client.Client
	// Host is the engine's address, as in DOCKER_HOST, used when Client is
	// nil. Empty means the agent's DOCKER_HOST and related variables, or the
	// engine's default socket.
	Host string
	// AgentName names this agent on the engine. It is recorded in the
	// ferry.agent label of every container the launcher creates, and
	// [Launcher.Survivors] returns only containers with this name, so agents
	// sharing an engine must have different names. It must not be empty.
	AgentName string
	// Logger receives the launcher's own events; nil discards them.
	Logger *slog.Logger
	// Clock measures job timeouts and stamps the launcher's own log lines;
	// nil means the real clock. Output lines carry the engine's timestamps.
	Clock clock.Clock
	// MaxLineBytes is the longest output line kept whole, in bytes; zero
	// means [launch.DefaultMaxLineBytes].
	MaxLineBytes int
	// RegistryAuth holds the agent's credentials for image registries, keyed
	// by registry host as it appears in image references ("ghcr.io",
	// "registry.example.com:5000"; "docker.io" for Docker Hub). Images from
	// other registries are pulled anonymously.
	RegistryAuth map[string]RegistryAuth
	// DefaultNetwork is the network of containers whose job names none;
	// empty means the engine's default.
	DefaultNetwork string
	// PullTimeout bounds one image pull; zero means [DefaultPullTimeout].
	PullTimeout time.Duration
}

// DefaultPullTimeout is how long an image pull may take when
// [Config.PullTimeout] is zero: large images on slow links take minutes.
const DefaultPullTimeout = 15 * time.Minute

// RegistryAuth is how the agent signs in to one image registry: a user name
// and password (or access token used as a password), or an identity token.
type RegistryAuth struct {
	Username string
	Password string
	// IdentityToken is an OAuth refresh token, used instead of Username and
	// Password when set.
	IdentityToken string
}

// Launcher runs jobs as containers on a Docker engine. It implements
// [launch.Launcher] and [launch.Adopter], and is safe for concurrent use.
type Launcher struct {
	cli            *client.Client
	ownClient      bool
	agent          string
	logger         *slog.Logger
	clk            clock.Clock
	maxLineBytes   int
	auth           map[string]RegistryAuth
	defaultNetwork string
	pullTimeout    time.Duration
}

var (
	_ launch.Launcher = (*Launcher)(nil)
	_ launch.Adopter  = (*Launcher)(nil)
)

// New returns a [Launcher] configured by cfg, or an error if cfg is invalid.
// It does not contact the engine.
func New(cfg Config) (*Launcher, error) {
	switch {
	case cfg.AgentName == "":
		return nil, errors.New("docker launcher: agent name is empty")
	case cfg.MaxLineBytes < 0:
		return nil, fmt.Errorf("docker launcher: max line bytes %d is negative", cfg.MaxLineBytes)
	case cfg.PullTimeout < 0:
		return nil, fmt.Errorf("docker launcher: pull timeout %s is negative", cfg.PullTimeout)
	}
	l := &Launcher{
		cli:            cfg.Client,
		agent:          cfg.AgentName,
		logger:         cfg.Logger,
		clk:            cfg.Clock,
		maxLineBytes:   cfg.MaxLineBytes,
		auth:           cfg.RegistryAuth,
		defaultNetwork: cfg.DefaultNetwork,
		pullTimeout:    cfg.PullTimeout,
	}
	if l.cli == nil {
		opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
		if cfg.Host != "" {
			opts = append(opts, client.WithHost(cfg.Host))
		}
		cli, err := client.NewClientWithOpts(opts...)
		if err != nil {
			return nil, fmt.Errorf("docker launcher: engine client: %w", err)
		}
		l.cli, l.ownClient = cli, true
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.clk == nil {
		l.clk = clock.Real{}
	}
	if l.pullTimeout == 0 {
		l.pullTimeout = DefaultPullTimeout
	}
	return l, nil
}

// Close releases the engine client if the launcher made it. Runs are not
// affected: their containers keep running and can be adopted later.
func (l *Launcher) Close() error {
	if !l.ownClient {
		return nil
	}
	if err := l.cli.Close(); err != nil {
		return fmt.Errorf("docker launcher: close engine client: %w", err)
	}
	return nil
}

// Start pulls the job's image as its pull policy asks, creates and starts its
// container, and returns its [launch.Handle]; the handle's
// InfrastructureID is the container id. The run's timeout starts counting
// once the container has started. A job the engine refuses (a missing image
// under pull policy Never, an image that does not exist, a command that
// cannot be executed, an unknown user or network, a bad mount) is reported as
// an error wrapping [launch.ErrInvalidJob]. ctx bounds only the start; if the
// start fails after the container was created, the container is removed
// unless the job keeps containers.
func (l *Launcher) Start(ctx context.Context, job launch.Job, sink launch.LogSink) (launch.Handle, error) {
	spec, err := specOf(job, l.agent, l.defaultNetwork)
	if err != nil {
		return nil, err
	}
	ref, err := l.ensureImage(ctx, job.Image, job.Container.PullPolicy)
	if err != nil {
		return nil, err
	}
	spec.config.Image = ref

	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	created, err := l.cli.ContainerCreate(callCtx, spec.config, spec.host, nil, nil, spec.name)
	cancel()
	if err != nil {
		return nil, engineError(fmt.Sprintf("create container for run %s", job.RunID), err)
	}
	h := l.newHandle(ctx, created.ID, job.RunID, job.Attempt, job.Timeout,
		job.EffectiveStopGrace(), job.Container.KeepContainer, sink)

	// Waiting for the next exit is set up before the start, so that even an
	// instant exit is seen.
	waitCtx, stopWait := context.WithCancel(context.Background())
	waitC, errC := l.cli.ContainerWait(waitCtx, created.ID, container.WaitConditionNextExit)
	callCtx, cancel = context.WithTimeout(ctx, callTimeout)
	err = l.cli.ContainerStart(callCtx, created.ID, container.StartOptions{})
	cancel()
	if err != nil {
		stopWait()
		h.release(context.WithoutCancel(ctx))
		return nil, engineError(fmt.Sprintf("start container %s for run %s", shortID(created.ID), job.RunID), err)
	}

	var deadline <-chan time.Time
	if job.Timeout > 0 {
		deadline = l.clk.After(job.Timeout)
	}
	h.begin(waitCtx, stopWait, waitC, errC, deadline, 0)
	l.logger.DebugContext(ctx, "container started", h.logAttrs()...)
	return h, nil
}

// Remove removes a container this agent created, running or not, such as one
// left by a run that the control plane considers finished. A container that no
// longer exists is not an error; one created by another agent is.
func (l *Launcher) Remove(ctx context.Context, containerID string) error {
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := l.cli.ContainerInspect(callCtx, containerID)
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", shortID(containerID), err)
	}
	if agent := labelsOf(info)[labelAgent]; agent != l.agent {
		return fmt.Errorf("remove container %s: it belongs to agent %q, not %q", shortID(containerID), agent, l.agent)
	}
	err = l.cli.ContainerRemove(callCtx, info.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", shortID(containerID), err)
	}
	return nil
}

// engineError wraps err from creating or starting a container. The engine's
// refusals of the job's own settings wrap [launch.ErrInvalidJob]; anything
// else is a problem of the infrastructure.
func engineError(op string, err error) error {
	// Engines report an unknown user with a generic status; its text is the
	// only sign.
	if cerrdefs.IsInvalidArgument(err) || cerrdefs.IsNotFound(err) ||
		strings.Contains(err.Error(), "unable to find user") {
		return fmt.Errorf("%w: %s: %w", launch.ErrInvalidJob, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// shortID returns the first 12 characters of a container id, as the docker
// command shows it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
