package ecs

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Launch types a [TaskConfig] may name.
const (
	LaunchTypeFargate  = "FARGATE"
	LaunchTypeEC2      = "EC2"
	LaunchTypeExternal = "EXTERNAL"
)

// Defaults of [Config] and [TaskConfig].
const (
	// DefaultFamilyPrefix starts the family of every task definition the
	// launcher registers; the agent's IAM policy is scoped to it.
	DefaultFamilyPrefix = "ferry-"
	// DefaultContainerName names the run's container in the task
	// definitions the launcher registers.
	DefaultContainerName = "run"
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
)

// CapacityProvider is one entry of a capacity provider strategy.
type CapacityProvider struct {
	// Name is the capacity provider, such as "FARGATE_SPOT".
	Name string
	// Weight is the relative share of tasks, 0 to 1000.
	Weight int32
	// Base is the minimum number of tasks on this provider, 0 to 100000.
	Base int32
}

// TaskConfig is an ecs work pool's job template: where and how runs are
// placed. It is filled from the pool's template variables and checked once by
// [TaskConfig.Validate].
type TaskConfig struct {
	// Cluster is the cluster's name or ARN; it must not be empty.
	Cluster string
	// LaunchType is FARGATE, EC2 or EXTERNAL. Empty means CapacityProviders
	// decide, or FARGATE when there are none.
	LaunchType string
	// CapacityProviders is a capacity provider strategy, used instead of a
	// launch type.
	CapacityProviders []CapacityProvider
	// Subnets and SecurityGroups place the task's network interface; awsvpc
	// networking (always so on Fargate) needs at least one subnet.
	Subnets        []string
	SecurityGroups []string
	// AssignPublicIP gives the task a public address.
	AssignPublicIP bool
	// NetworkMode is awsvpc, bridge, host or none; empty means awsvpc.
	NetworkMode string
	// TaskRoleARN is the role the run's code assumes; empty means none.
	TaskRoleARN string
	// ExecutionRoleARN is the role ECS uses to pull the image, write logs
	// and fetch secrets; it is needed for secrets and the awslogs driver.
	ExecutionRoleARN string
	// CPU is the task's CPU in units (1024 = one vCPU) and Memory its memory
	// in MiB. Fargate needs both, as one of the pairs it offers.
	CPU    int32
	Memory int32
	// LogGroup is the CloudWatch Logs group of the runs' output; it must not
	// be empty. StreamPrefix starts each stream's name; empty means "ferry".
	LogGroup     string
	StreamPrefix string
	// PlatformVersion is Fargate's platform version; empty means LATEST.
	PlatformVersion string
	// TaskDefinition, when set, is the ARN of an existing task definition to
	// run instead of registering one from the job; its container must be
	// named ContainerName.
	TaskDefinition string
	// ContainerName names the run's container; empty means
	// [DefaultContainerName].
	ContainerName string
	// FamilyPrefix starts the family of registered task definitions; empty
	// means [DefaultFamilyPrefix].
	FamilyPrefix string
	// Tags are added to every task and task definition. Keys starting with
	// "ferry:" are reserved for the launcher.
	Tags map[string]string
}

var (
	familyPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)
	containerRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
)

// fargateMemory lists, for each Fargate CPU size, the memory sizes in MiB it
// may be paired with: minimum, maximum and step.
var fargateMemory = map[int32][3]int32{
	256:   {512, 2048, 512},
	512:   {1024, 4096, 1024},
	1024:  {2048, 8192, 1024},
	2048:  {4096, 16384, 1024},
	4096:  {8192, 30720, 1024},
	8192:  {16384, 61440, 4096},
	16384: {32768, 122880, 8192},
}

// FieldError is the error of [TaskConfig.Validate]: it names the template
// field that is wrong.
type FieldError struct {
	// Field is the template variable, such as "subnets".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns the field and the reason.
func (e *FieldError) Error() string { return "ecs template: " + e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem of c as a [*FieldError].
func (c TaskConfig) Validate() error {
	switch c.LaunchType {
	case "", LaunchTypeFargate, LaunchTypeEC2, LaunchTypeExternal:
	default:
		return fieldErr("launch_type", "unknown launch type %q (want FARGATE, EC2 or EXTERNAL)", c.LaunchType)
	}
	if c.Cluster == "" {
		return fieldErr("cluster", "is empty")
	}
	if c.LaunchType != "" && len(c.CapacityProviders) > 0 {
		return fieldErr("capacity_provider_strategy", "cannot be combined with launch type %s", c.LaunchType)
	}
	for i, cp := range c.CapacityProviders {
		if cp.Name == "" || cp.Weight < 0 || cp.Weight > 1000 || cp.Base < 0 || cp.Base > 100000 {
			return fieldErr("capacity_provider_strategy", "entry %d needs a name, weight 0-1000 and base 0-100000", i)
		}
	}
	switch c.networkMode() {
	case "awsvpc":
		if len(c.Subnets) == 0 {
			return fieldErr("subnets", "awsvpc networking needs at least one subnet")
		}
		if len(c.Subnets) > 16 {
			return fieldErr("subnets", "at most 16 subnets, got %d", len(c.Subnets))
		}
		if len(c.SecurityGroups) > 5 {
			return fieldErr("security_groups", "at most 5 security groups, got %d", len(c.SecurityGroups))
		}
	case "bridge", "host", "none":
		if c.fargate() {
			return fieldErr("network_mode", "Fargate needs awsvpc, not %s", c.NetworkMode)
		}
	default:
		return fieldErr("network_mode", "unknown network mode %q", c.NetworkMode)
	}
	if c.LogGroup == "" {
		return fieldErr("log_group", "is empty")
	}
	if c.FamilyPrefix != "" && !familyPrefixRE.MatchString(c.FamilyPrefix) {
		return fieldErr("family_prefix", "must be letters, digits, '-' and '_'")
	}
	if c.ContainerName != "" && !containerRE.MatchString(c.ContainerName) {
		return fieldErr("container_name", "must be letters, digits, '-' and '_'")
	}
	if c.TaskDefinition == "" {
		if err := checkResources(c.fargate(), c.CPU, c.Memory); err != nil {
			return err
		}
	}
	for k, v := range c.Tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return fieldErr("tags", "key %q: keys need 1-128 characters and values at most 256", k)
		}
		if len(k) >= 6 && k[:6] == "ferry:" || len(k) >= 4 && (k[:4] == "aws:" || k[:4] == "AWS:") {
			return fieldErr("tags", "key %q uses a reserved prefix", k)
		}
	}
	if len(c.Tags)+len(reservedTags) > 50 {
		return fieldErr("tags", "at most %d tags", 50-len(reservedTags))
	}
	return nil
}

// checkResources checks a task's cpu and memory; Fargate offers only some
// pairs.
func checkResources(fargate bool, cpu, memory int32) error {
	if !fargate {
		if cpu < 0 || memory < 0 {
			return fieldErr("cpu", "cpu and memory must not be negative")
		}
		return nil
	}
	mem, ok := fargateMemory[cpu]
	if !ok {
		return fieldErr("cpu", "Fargate does not offer %d CPU units (256, 512, 1024, 2048, 4096, 8192 or 16384)", cpu)
	}
	if memory < mem[0] || memory > mem[1] || (memory-mem[0])%mem[2] != 0 {
		return fieldErr("memory", "Fargate does not pair %d MiB with %d CPU units (%d to %d MiB in steps of %d)",
			memory, cpu, mem[0], mem[1], mem[2])
	}
	return nil
}

func (c TaskConfig) fargate() bool {
	if c.LaunchType == LaunchTypeFargate {
		return true
	}
	if c.LaunchType == "" && len(c.CapacityProviders) == 0 {
		return true
	}
	for _, cp := range c.CapacityProviders {
		if cp.Name == "FARGATE" || cp.Name == "FARGATE_SPOT" {
			return true
		}
	}
	return false
}

func (c TaskConfig) networkMode() string {
	if c.NetworkMode == "" {
		return "awsvpc"
	}
	return c.NetworkMode
}

func (c TaskConfig) containerName() string {
	if c.ContainerName == "" {
		return DefaultContainerName
	}
	return c.ContainerName
}

func (c TaskConfig) familyPrefix() string {
	if c.FamilyPrefix == "" {
		return DefaultFamilyPrefix
	}
	return c.FamilyPrefix
}

func (c TaskConfig) streamPrefix() string {
	if c.StreamPrefix == "" {
		return "ferry"
	}
	return c.StreamPrefix
}

// Config configures a [Launcher].
type Config struct {
	// AWS is the SDK configuration: region, credentials (normally the
	// default chain of the agent's role) and, in tests, a base endpoint.
	AWS aws.Config
	// AccountID is the AWS account of the secrets that jobs name by name
	// rather than by ARN; it may be empty when they all use ARNs.
	AccountID string
	// Task is the pool's job template; it must pass [TaskConfig.Validate].
	Task TaskConfig
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
	return nil
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }
