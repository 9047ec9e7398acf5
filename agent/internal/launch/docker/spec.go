package docker

import (
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// Labels the launcher puts on every container. Survivors and Adopt read them
// back after an agent restart.
const (
	labelRunID      = "ferry.run_id"
	labelAttempt    = "ferry.attempt"
	labelAgent      = "ferry.agent"
	labelLeaseToken = "ferry.lease_token"
	labelTimeout    = "ferry.timeout_ms"
	labelStopGrace  = "ferry.stop_grace_ms"
	labelKeep       = "ferry.keep_container"
	labelDeployment = "ferry.deployment"

	// reservedLabelPrefix starts the names of the launcher's own labels; a
	// job's labels may not use it.
	reservedLabelPrefix = "ferry."
)

// logDriver is the log driver of every container: json-file keeps the whole
// log, so it can be read again from its start (see the package comment).
const logDriver = "json-file"

// maxNameRunID is how much of a run id goes into a container name.
const maxNameRunID = 64

// spec is what the engine needs to create a job's container.
type spec struct {
	name   string
	config *container.Config
	host   *container.HostConfig
}

// specOf validates job and turns it into a container spec for the agent
// named agent; the image is filled in after it has been resolved. Problems
// with the job are errors wrapping [launch.ErrInvalidJob].
func specOf(job launch.Job, agent, defaultNetwork string) (spec, error) {
	if err := job.Validate(); err != nil {
		return spec{}, err
	}
	c := job.Container
	switch {
	case job.Image == "":
		return spec{}, fmt.Errorf("%w: image is empty", launch.ErrInvalidJob)
	case c.MilliCPUs < 0:
		return spec{}, fmt.Errorf("%w: cpu limit %d millicpus is negative", launch.ErrInvalidJob, c.MilliCPUs)
	case c.MemoryBytes < 0:
		return spec{}, fmt.Errorf("%w: memory limit %d bytes is negative", launch.ErrInvalidJob, c.MemoryBytes)
	}
	for _, m := range c.Mounts {
		if !path.IsAbs(m.Source) || !path.IsAbs(m.Target) {
			return spec{}, fmt.Errorf("%w: mount %q → %q: source and target must be absolute paths",
				launch.ErrInvalidJob, m.Source, m.Target)
		}
	}
	for k := range c.Labels {
		if strings.HasPrefix(k, reservedLabelPrefix) {
			return spec{}, fmt.Errorf("%w: label %q uses the prefix %q, which is reserved for Ferry",
				launch.ErrInvalidJob, k, reservedLabelPrefix)
		}
	}
	args, err := launch.RenderArgs(job.Command, job.ParametersJSON)
	if err != nil {
		return spec{}, fmt.Errorf("%w: render command: %w", launch.ErrInvalidJob, err)
	}
	// The container's environment is the job's alone; the engine adds the
	// image's ENV underneath.
	env, err := job.Environ(nil)
	if err != nil {
		return spec{}, err
	}

	grace := job.EffectiveStopGrace()
	graceSeconds := graceInSeconds(grace)
	labels := make(map[string]string, len(c.Labels)+8)
	maps.Copy(labels, c.Labels)
	labels[labelRunID] = job.RunID
	labels[labelAttempt] = strconv.FormatInt(int64(job.Attempt), 10)
	labels[labelAgent] = agent
	labels[labelLeaseToken] = strconv.FormatInt(job.LeaseToken, 10)
	labels[labelTimeout] = strconv.FormatInt(job.Timeout.Milliseconds(), 10)
	labels[labelStopGrace] = strconv.FormatInt(grace.Milliseconds(), 10)
	labels[labelKeep] = strconv.FormatBool(c.KeepContainer)
	if job.DeploymentName != "" {
		labels[labelDeployment] = job.DeploymentName
	}

	network := c.Network
	if network == "" {
		network = defaultNetwork
	}
	mounts := make([]mount.Mount, len(c.Mounts))
	for i, m := range c.Mounts {
		mounts[i] = mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	}
	var memorySwap int64
	if c.MemoryBytes > 0 {
		memorySwap = c.MemoryBytes // the same as the limit: no swap on top
	}

	return spec{
		name: containerName(job.RunID, job.Attempt),
		config: &container.Config{
			// The command is the whole argument vector, as on every pool, so
			// it replaces the image's entrypoint too.
			Entrypoint:  args[:1],
			Cmd:         args[1:],
			Env:         env,
			WorkingDir:  job.WorkingDir,
			User:        c.User,
			Labels:      labels,
			StopTimeout: &graceSeconds,
		},
		host: &container.HostConfig{
			NetworkMode:   container.NetworkMode(network),
			Privileged:    c.Privileged,
			Mounts:        mounts,
			LogConfig:     container.LogConfig{Type: logDriver},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Resources: container.Resources{
				NanoCPUs:   int64(c.MilliCPUs) * 1_000_000,
				Memory:     c.MemoryBytes,
				MemorySwap: memorySwap,
			},
		},
	}, nil
}

// graceInSeconds rounds a stop grace up to whole seconds, the engine's unit.
func graceInSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// containerName returns the name of an attempt's container, such as
// "ferry-0b8e…-2", so that an operator can tell containers apart. Characters
// a container name cannot hold become '_'.
func containerName(runID string, attempt int32) string {
	if len(runID) > maxNameRunID {
		runID = runID[:maxNameRunID]
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, runID)
	return fmt.Sprintf("ferry-%s-%d", clean, attempt)
}
