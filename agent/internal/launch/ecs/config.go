package ecs

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ferryhq/ferry/internal/ecstask"
)

// Launch types a [TaskConfig] may name.
const (
	LaunchTypeFargate  = ecstask.LaunchTypeFargate
	LaunchTypeEC2      = ecstask.LaunchTypeEC2
	LaunchTypeExternal = ecstask.LaunchTypeExternal
)

// Defaults of [Config] and [TaskConfig].
const (
	// DefaultFamilyPrefix starts the family of every task definition the
	// launcher registers; the agent's IAM policy is scoped to it.
	DefaultFamilyPrefix = ecstask.DefaultFamilyPrefix
	// DefaultContainerName names the run's container in the task
	// definitions the launcher registers.
	DefaultContainerName = ecstask.DefaultContainerName
	// DefaultPollInterval is how often the tasks' status is read.
	DefaultPollInterval = 6 * time.Second
	// DefaultLogInterval is how often a run's log stream is read.
	DefaultLogInterval = 2 * time.Second
	// DefaultCallTimeout bounds one AWS call with its retries.
	DefaultCallTimeout = 20 * time.Second
	// DefaultMaxAttempts bounds the SDK's attempts per AWS call.
	DefaultMaxAttempts = 5
	// DefaultMaxBackoff caps the SDK's wait between attempts.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultDrainTimeout bounds the final read of a stopped task's log:
	// long enough to outlast a CloudWatch Logs throttling spell or a short
	// outage, short enough that the run's outcome is not held for long.
	DefaultDrainTimeout = 2 * time.Minute
)

// CapacityProvider is one entry of a capacity provider strategy; see
// [ecstask.CapacityProvider].
type CapacityProvider = ecstask.CapacityProvider

// TaskConfig is an ecs work pool's task settings: where and how runs are
// placed; see [ecstask.TaskConfig]. The agent's config file gives the
// launcher's [Config.Task], and each job's ecs variables override it.
type TaskConfig = ecstask.TaskConfig

// FieldError is the error of [TaskConfig.Validate]: it names the template
// field that is wrong; see [ecstask.FieldError].
type FieldError = ecstask.FieldError

// Config configures a [Launcher].
type Config struct {
	// AWS is the SDK configuration: region, credentials (normally the
	// default chain of the agent's role) and, in tests, a base endpoint.
	AWS aws.Config
	// AccountID is the AWS account of the secrets that jobs name by name
	// rather than by ARN; it may be empty when they all use ARNs.
	AccountID string
	// Task is the default task settings of the pool's runs, from the agent's
	// config file; it must pass [TaskConfig.Validate]. A job's ecs variables
	// override it field by field.
	Task TaskConfig
	// OtherClusters are the clusters, by name or ARN, besides Task.Cluster
	// that a job's cluster variable may name; nil means none. A job naming
	// any other cluster fails with the variable named. After a restart,
	// [Launcher.Survivors] looks for the agent's tasks in Task.Cluster and
	// each of these.
	OtherClusters []string
	// AgentName is recorded in a tag of every task, and [Launcher.Survivors]
	// returns only tasks with this name. It must not be empty.
	AgentName string
	// Logger receives the launcher's own events; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often task status is read; zero means
	// [DefaultPollInterval]. Errors back off up to eight times longer.
	PollInterval time.Duration
	// LogInterval is how often a run's log stream is read; zero means
	// [DefaultLogInterval].
	LogInterval time.Duration
	// CallTimeout bounds one AWS call with its retries; zero means
	// [DefaultCallTimeout].
	CallTimeout time.Duration
	// MaxAttempts bounds the SDK's attempts per call; zero means
	// [DefaultMaxAttempts].
	MaxAttempts int
	// MaxBackoff caps the SDK's wait between attempts; zero means
	// [DefaultMaxBackoff].
	MaxBackoff time.Duration
	// MaxLineBytes is the longest output line kept whole; zero means
	// [launch.DefaultMaxLineBytes].
	MaxLineBytes int
	// DrainTimeout bounds the final read of a task's log once it has
	// stopped: failed reads are tried again, backing off from LogInterval up
	// to MaxBackoff, until this much time has passed; then the run's outcome
	// is reported with a system line saying what could not be read. Zero
	// means [DefaultDrainTimeout].
	DrainTimeout time.Duration
}

// CheckOtherClusters reports, as a [*FieldError] naming other_clusters, the
// first entry of clusters that is not a cluster name or ARN; see
// [Config.OtherClusters].
func CheckOtherClusters(clusters []string) error {
	for i, c := range clusters {
		err := ecstask.Vars{Cluster: &c}.Check()
		var fe *FieldError
		if errors.As(err, &fe) {
			return &FieldError{Field: fmt.Sprintf("other_clusters[%d]", i), Reason: fe.Reason}
		}
		if err != nil {
			return fmt.Errorf("other_clusters[%d]: %w", i, err)
		}
	}
	return nil
}

func (c *Config) fill() error {
	if c.AgentName == "" {
		return errors.New("ecs: agent name is empty")
	}
	if len(c.AgentName) > 256 {
		return errors.New("ecs: agent name is longer than 256 characters")
	}
	if err := c.Task.Validate(); err != nil {
		return err
	}
	if err := CheckOtherClusters(c.OtherClusters); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.LogInterval <= 0 {
		c.LogInterval = DefaultLogInterval
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return nil
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }
