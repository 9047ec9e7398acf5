package launch

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultStopGrace is how long a stopped run has between the graceful stop
// signal and the forced kill when [Job.StopGrace] is zero. Ten seconds matches
// what Docker and ECS give by default, so a run behaves alike on every pool.
const DefaultStopGrace = 10 * time.Second

// Names of the environment variables through which every launcher tells a run
// who it is. They are set last and cannot be overridden by [Job.Env].
const (
	EnvRunID      = "FERRY_RUN_ID"
	EnvAttempt    = "FERRY_ATTEMPT"
	EnvParameters = "FERRY_PARAMETERS"
)

// Job is everything a [Launcher] needs to start one attempt of a run. Secret
// references in Env have already been resolved by the agent, so a Job must
// never be logged.
type Job struct {
	// RunID identifies the run; it must not be empty.
	RunID string
	// Attempt is the attempt number, starting at 1.
	Attempt int32
	// DeploymentName names the deployment, for labels and messages.
	DeploymentName string
	// Command is the argument vector; Command[0] is the program. Each element
	// may contain {{ .name }} placeholders filled from ParametersJSON by
	// [RenderArgs].
	Command []string
	// Env is the deployment's environment, added on top of the launcher's base
	// environment.
	Env map[string]string
	// WorkingDir is the absolute directory the command starts in; empty means
	// the launcher's default.
	WorkingDir string
	// ParametersJSON holds the run's parameters as a JSON object; empty means
	// none. It is also exported to the run as FERRY_PARAMETERS.
	ParametersJSON string
	// Timeout is how long the run may take from its start before it is
	// stopped; zero means no limit.
	Timeout time.Duration
	// StopGrace is how long a stopped run has to exit after the graceful stop
	// signal before it is killed; zero means [DefaultStopGrace].
	StopGrace time.Duration
	// LeaseToken is the token of the lease under which the agent runs this
	// attempt. A launcher whose runs outlive the agent records it with the run
	// and returns it in [Survivor.LeaseToken]; others ignore it.
	LeaseToken int64
	// Image is the container image of docker and ecs work pools, such as
	// "ghcr.io/acme/etl:1.4". The process launcher ignores it.
	Image string
	// Container holds the container settings of docker and ecs work pools.
	// The process launcher ignores it.
	Container Container
	// SecretRefs maps an environment variable to the secret reference it was
	// resolved from, such as "aws-sm://prod/db#password"; nil means none. A
	// launcher whose infrastructure fetches secrets itself (launch/ecs)
	// passes these references on and never the resolved values in Env;
	// others ignore it.
	SecretRefs map[string]string
	// Variables is the run's merged job variables (pool, deployment, run)
	// as a JSON object, from the signed work order; empty means none.
	// launch/ecs reads its task settings from them; others ignore it.
	Variables string
}

// Validate reports the first problem that makes j impossible to start, as an
// error wrapping [ErrInvalidJob]. It does not render the command.
func (j Job) Validate() error {
	switch {
	case j.RunID == "":
		return fmt.Errorf("%w: run id is empty", ErrInvalidJob)
	case len(j.Command) == 0 || j.Command[0] == "":
		return fmt.Errorf("%w: command is empty", ErrInvalidJob)
	case j.WorkingDir != "" && !filepath.IsAbs(j.WorkingDir):
		return fmt.Errorf("%w: working directory %q is not an absolute path", ErrInvalidJob, j.WorkingDir)
	case j.Timeout < 0:
		return fmt.Errorf("%w: timeout %s is negative", ErrInvalidJob, j.Timeout)
	case j.StopGrace < 0:
		return fmt.Errorf("%w: stop grace %s is negative", ErrInvalidJob, j.StopGrace)
	}
	for k, v := range j.Env {
		if err := checkEnvVar(k, v); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidJob, err)
		}
	}
	return nil
}

// EffectiveStopGrace returns j.StopGrace, or [DefaultStopGrace] when it is zero.
func (j Job) EffectiveStopGrace() time.Duration {
	if j.StopGrace > 0 {
		return j.StopGrace
	}
	return DefaultStopGrace
}

// Environ returns the environment of the run as sorted KEY=VALUE pairs: base
// (KEY=VALUE pairs, typically the launcher's configuration), overridden by
// j.Env, overridden by [EnvRunID], [EnvAttempt] and [EnvParameters]. It
// returns an error wrapping [ErrInvalidJob] when j.Env holds a name or value
// that cannot be passed to a process, and a plain error when base does.
func (j Job) Environ(base []string) ([]string, error) {
	vars := make(map[string]string, len(base)+len(j.Env)+3)
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("base environment entry %q has no '='", kv)
		}
		if err := checkEnvVar(k, v); err != nil {
			return nil, fmt.Errorf("base environment: %w", err)
		}
		vars[k] = v
	}
	for k, v := range j.Env {
		if err := checkEnvVar(k, v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
		}
		vars[k] = v
	}
	vars[EnvRunID] = j.RunID
	vars[EnvAttempt] = strconv.FormatInt(int64(j.Attempt), 10)
	vars[EnvParameters] = j.ParametersJSON

	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

// checkEnvVar reports whether name=value can be placed in a process
// environment: execve takes NUL-terminated KEY=VALUE strings, so neither part
// may hold a NUL and the name may not hold '='.
func checkEnvVar(name, value string) error {
	switch {
	case name == "":
		return fmt.Errorf("environment variable name is empty")
	case strings.ContainsAny(name, "=\x00"):
		return fmt.Errorf("environment variable name %q contains '=' or a NUL byte", name)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Errorf("environment variable %s contains a NUL byte", name)
	}
	return nil
}
