package ecstask

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Launch types a [TaskConfig] may name.
const (
	LaunchTypeFargate  = "FARGATE"
	LaunchTypeEC2      = "EC2"
	LaunchTypeExternal = "EXTERNAL"
)

// Network modes a [TaskConfig] may name.
const (
	NetworkModeAwsvpc = "awsvpc"
	NetworkModeBridge = "bridge"
	NetworkModeHost   = "host"
	NetworkModeNone   = "none"
)

// Defaults of [TaskConfig]'s optional fields.
const (
	// DefaultFamilyPrefix starts the family of every task definition the
	// launcher registers; the agent's IAM policy is scoped to it.
	DefaultFamilyPrefix = "ferry-"
	// DefaultContainerName names the run's container in the task
	// definitions the launcher registers.
	DefaultContainerName = "run"
	// DefaultStreamPrefix starts the name of each run's log stream.
	DefaultStreamPrefix = "ferry"
)

// Limits of ECS that the rules enforce.
const (
	// MaxTags is the most tags a template may add: ECS allows 50 per
	// resource and the launcher keeps 7 for its own "ferry:" tags.
	MaxTags = 43
	// MaxSubnets and MaxSecurityGroups bound an awsvpc configuration.
	MaxSubnets        = 16
	MaxSecurityGroups = 5
	// MaxCapacityProviders bounds a capacity provider strategy.
	MaxCapacityProviders = 6
)

// CapacityProvider is one entry of a capacity provider strategy.
type CapacityProvider struct {
	// Name is the capacity provider, such as "FARGATE_SPOT".
	Name string `json:"name"`
	// Weight is the relative share of tasks, 0 to 1000.
	Weight int32 `json:"weight"`
	// Base is the minimum number of tasks on this provider, 0 to 100000.
	Base int32 `json:"base"`
}

// TaskConfig is where and how an ecs pool's runs are placed: the agent's
// config file gives it, and job variables ([Vars]) override it field by
// field. [TaskConfig.Validate] checks it before a task is run.
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
	// in MiB; zero leaves them out. Fargate needs both, as one of the pairs
	// it offers.
	CPU    int32
	Memory int32
	// LogGroup is the CloudWatch Logs group of the runs' output; it must not
	// be empty. StreamPrefix starts each stream's name; empty means
	// [DefaultStreamPrefix].
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
	// means [DefaultFamilyPrefix]. Only the agent's config sets it.
	FamilyPrefix string
	// Tags are added to every task and task definition. Keys starting with
	// "ferry:" or "aws:" are reserved.
	Tags map[string]string
}

// FieldError is the error of [TaskConfig.Validate], [Vars.Check] and
// [ParseVars]: it names the job variable that is wrong. Its text is safe to
// show to the user who wrote the variable.
type FieldError struct {
	// Field is the job variable, such as "subnets".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns the field and the reason.
func (e *FieldError) Error() string { return "ecs template: " + e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

var (
	clusterRE = regexp.MustCompile(`^([A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255})$`)
	// AWS's ids are subnet-<hex> and sg-<hex>; the looser shape still
	// catches a list written as one string or an id with spaces.
	awsIDRE        = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	roleARNRE      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$`)
	taskDefARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/[A-Za-z0-9_-]{1,255}:[0-9]{1,9}$`)
	logGroupRE     = regexp.MustCompile(`^[A-Za-z0-9_./#-]{1,512}$`)
	streamPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_./#-]{1,128}$`)
	platformRE     = regexp.MustCompile(`^(LATEST|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})$`)
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

// Validate reports the first problem of c as a [*FieldError]: a setting that
// is malformed, missing (cluster, log_group, subnets for awsvpc, Fargate's
// cpu and memory) or contradicted by another.
func (c TaskConfig) Validate() error {
	if err := c.checkEach(); err != nil {
		return err
	}
	if c.Cluster == "" {
		return fieldErr("cluster", "is empty")
	}
	if c.LaunchType != "" && len(c.CapacityProviders) > 0 {
		return fieldErr("capacity_provider_strategy", "cannot be combined with launch type %s", c.LaunchType)
	}
	fargate := c.Fargate()
	if c.EffectiveNetworkMode() == NetworkModeAwsvpc {
		if len(c.Subnets) == 0 {
			return fieldErr("subnets", "awsvpc networking needs at least one subnet")
		}
	} else if fargate {
		return fieldErr("network_mode", "Fargate needs awsvpc, not %s", c.NetworkMode)
	}
	if c.PlatformVersion != "" && !fargate {
		return fieldErr("platform_version", "is only for Fargate")
	}
	if c.LogGroup == "" {
		return fieldErr("log_group", "is empty")
	}
	if c.TaskDefinition == "" {
		if err := CheckResources(fargate, c.CPU, c.Memory); err != nil {
			return err
		}
	}
	return nil
}

// checkEach checks every setting of c that is set on its own, in the order
// of the job variables.
func (c TaskConfig) checkEach() error {
	checks := []error{
		checkLaunchType(c.LaunchType, false),
		checkCluster(c.Cluster, false),
		checkStrategy(c.CapacityProviders),
		checkIDs("subnets", c.Subnets, MaxSubnets, "subnet-0abc"),
		checkIDs("security_groups", c.SecurityGroups, MaxSecurityGroups, "sg-0abc"),
		checkNetworkMode(c.NetworkMode, false),
		checkRole("task_role_arn", c.TaskRoleARN, false),
		checkRole("execution_role_arn", c.ExecutionRoleARN, false),
		checkPattern("log_group", c.LogGroup, logGroupRE, false, "must be 1-512 letters, digits and _ . / # -"),
		checkPattern("stream_prefix", c.StreamPrefix, streamPrefixRE, false, "must be 1-128 letters, digits and _ . / # -"),
		checkPattern("platform_version", c.PlatformVersion, platformRE, false, `must be LATEST or a version such as "1.4.0"`),
		checkPattern("task_definition", c.TaskDefinition, taskDefARNRE, false,
			"must be a task definition ARN with its revision, arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>"),
		checkPattern("container_name", c.ContainerName, containerRE, false, "must be 1-255 letters, digits, '-' and '_'"),
		checkPattern("family_prefix", c.FamilyPrefix, familyPrefixRE, false, "must be letters, digits, '-' and '_'"),
		checkTags(c.Tags),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// Fargate reports whether c's tasks run on Fargate: its launch type is
// FARGATE, or it has no launch type and either no capacity provider
// strategy or one naming FARGATE or FARGATE_SPOT.
func (c TaskConfig) Fargate() bool {
	if c.LaunchType == LaunchTypeFargate {
		return true
	}
	if c.LaunchType == "" && len(c.CapacityProviders) == 0 {
		return true
	}
	return c.LaunchType == "" && strategyFargate(c.CapacityProviders)
}

// EffectiveNetworkMode returns c.NetworkMode, or awsvpc when it is empty.
func (c TaskConfig) EffectiveNetworkMode() string {
	if c.NetworkMode == "" {
		return NetworkModeAwsvpc
	}
	return c.NetworkMode
}

// EffectiveContainerName returns c.ContainerName, or [DefaultContainerName]
// when it is empty.
func (c TaskConfig) EffectiveContainerName() string {
	if c.ContainerName == "" {
		return DefaultContainerName
	}
	return c.ContainerName
}

// EffectiveFamilyPrefix returns c.FamilyPrefix, or [DefaultFamilyPrefix]
// when it is empty.
func (c TaskConfig) EffectiveFamilyPrefix() string {
	if c.FamilyPrefix == "" {
		return DefaultFamilyPrefix
	}
	return c.FamilyPrefix
}

// EffectiveStreamPrefix returns c.StreamPrefix, or [DefaultStreamPrefix]
// when it is empty.
func (c TaskConfig) EffectiveStreamPrefix() string {
	if c.StreamPrefix == "" {
		return DefaultStreamPrefix
	}
	return c.StreamPrefix
}

// CheckResources checks a task's cpu (ECS units) and memory (MiB): Fargate
// offers only some pairs; elsewhere they must not be negative. Its error is
// a [*FieldError] naming cpu or memory.
func CheckResources(fargate bool, cpu, memory int32) error {
	if !fargate {
		if cpu < 0 {
			return fieldErr("cpu", "must not be negative")
		}
		if memory < 0 {
			return fieldErr("memory", "must not be negative")
		}
		return nil
	}
	if err := checkFargateCPU(cpu); err != nil {
		return err
	}
	mem := fargateMemory[cpu]
	if memory < mem[0] || memory > mem[1] || (memory-mem[0])%mem[2] != 0 {
		return fieldErr("memory", "Fargate does not pair %d MiB with %d CPU units (%d to %d MiB in steps of %d)",
			memory, cpu, mem[0], mem[1], mem[2])
	}
	return nil
}

func checkFargateCPU(cpu int32) error {
	if _, ok := fargateMemory[cpu]; !ok {
		return fieldErr("cpu", "Fargate does not offer %d CPU units (256, 512, 1024, 2048, 4096, 8192 or 16384)", cpu)
	}
	return nil
}

func strategyFargate(cps []CapacityProvider) bool {
	for _, cp := range cps {
		if cp.Name == "FARGATE" || cp.Name == "FARGATE_SPOT" {
			return true
		}
	}
	return false
}

// The checks below judge one setting on its own. Those taking present
// reject an empty value, which a job variable must not have (leaving the
// variable out keeps the agent's setting); an empty field of a TaskConfig
// means unset and passes.

func checkLaunchType(s string, present bool) error {
	switch s {
	case LaunchTypeFargate, LaunchTypeEC2, LaunchTypeExternal:
		return nil
	case "":
		if !present {
			return nil
		}
	}
	return fieldErr("launch_type", "unknown launch type %q (want FARGATE, EC2 or EXTERNAL)", s)
}

// ClusterName returns the name of a cluster given by name or ARN, so that
// two references to one cluster compare equal.
func ClusterName(ref string) string {
	if _, name, ok := strings.Cut(ref, ":cluster/"); ok {
		return name
	}
	return ref
}

func checkCluster(s string, present bool) error {
	return checkPattern("cluster", s, clusterRE, present,
		"must be a cluster name (1-255 letters, digits, '-' and '_') or a cluster ARN")
}

func checkStrategy(cps []CapacityProvider) error {
	if len(cps) > MaxCapacityProviders {
		return fieldErr("capacity_provider_strategy", "at most %d capacity providers, got %d", MaxCapacityProviders, len(cps))
	}
	seen := map[string]bool{}
	for i, cp := range cps {
		if !containerRE.MatchString(cp.Name) || cp.Weight < 0 || cp.Weight > 1000 || cp.Base < 0 || cp.Base > 100000 {
			return fieldErr("capacity_provider_strategy",
				"entry %d needs a name of letters, digits, '-' and '_', weight 0-1000 and base 0-100000", i)
		}
		if seen[cp.Name] {
			return fieldErr("capacity_provider_strategy", "names %s twice", cp.Name)
		}
		seen[cp.Name] = true
	}
	return nil
}

func checkIDs(field string, ids []string, maxItems int, example string) error {
	if len(ids) > maxItems {
		return fieldErr(field, "at most %d, got %d", maxItems, len(ids))
	}
	for _, id := range ids {
		if !awsIDRE.MatchString(id) {
			return fieldErr(field, "%q is not an id such as %s (1-64 letters, digits and '-')", id, example)
		}
	}
	return nil
}

func checkNetworkMode(s string, present bool) error {
	switch s {
	case NetworkModeAwsvpc, NetworkModeBridge, NetworkModeHost, NetworkModeNone:
		return nil
	case "":
		if !present {
			return nil
		}
	}
	return fieldErr("network_mode", "unknown network mode %q (want awsvpc, bridge, host or none)", s)
}

func checkRole(field, s string, present bool) error {
	return checkPattern(field, s, roleARNRE, present, "must be an IAM role ARN, arn:aws:iam::<account>:role/<name>")
}

func checkPattern(field, s string, re *regexp.Regexp, present bool, want string) error {
	if s == "" && !present {
		return nil
	}
	if s == "" {
		return fieldErr(field, "is empty; leave the variable out to keep the agent's setting")
	}
	if !re.MatchString(s) {
		return fieldErr(field, "%q %s", s, want)
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return fieldErr("tags", "at most %d tags, got %d", MaxTags, len(tags))
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		if k == "" || len(k) > 128 || len(v) > 256 {
			return fieldErr("tags", "key %q: keys need 1-128 characters and values at most 256", k)
		}
		if strings.HasPrefix(k, "ferry:") || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fieldErr("tags", "key %q uses a reserved prefix (ferry: or aws:)", k)
		}
	}
	return nil
}
