package ecstask

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Vars are the ecs job variables found in a set of merged job variables;
// a nil field is a variable that is absent or null, which leaves the agent's
// setting in place. See the package documentation for each variable.
type Vars struct {
	Cluster                  *string
	LaunchType               *string
	CapacityProviderStrategy *[]CapacityProvider
	Subnets                  *[]string
	SecurityGroups           *[]string
	AssignPublicIP           *bool
	NetworkMode              *string
	TaskRoleARN              *string
	ExecutionRoleARN         *string
	// CPU is in ECS CPU units (1024 = one vCPU), Memory in MiB.
	CPU             *int32
	Memory          *int32
	LogGroup        *string
	StreamPrefix    *string
	PlatformVersion *string
	TaskDefinition  *string
	ContainerName   *string
	// Tags is nil when the variable is absent.
	Tags map[string]string
}

// varSpecs lists the ecs job variables in the order they are checked: the
// JSON type each must have and where it is decoded to.
var varSpecs = []struct {
	name, kind string
	dst        func(*Vars) any
}{
	{"cluster", "a string", func(v *Vars) any { return &v.Cluster }},
	{"launch_type", "a string", func(v *Vars) any { return &v.LaunchType }},
	{"capacity_provider_strategy", "a list of objects with name, weight and base",
		func(v *Vars) any { return &v.CapacityProviderStrategy }},
	{"subnets", "a list of strings", func(v *Vars) any { return &v.Subnets }},
	{"security_groups", "a list of strings", func(v *Vars) any { return &v.SecurityGroups }},
	{"assign_public_ip", "a boolean", func(v *Vars) any { return &v.AssignPublicIP }},
	{"network_mode", "a string", func(v *Vars) any { return &v.NetworkMode }},
	{"task_role_arn", "a string", func(v *Vars) any { return &v.TaskRoleARN }},
	{"execution_role_arn", "a string", func(v *Vars) any { return &v.ExecutionRoleARN }},
	{"cpu", "an integer number of ECS CPU units (1024 = one vCPU)", func(v *Vars) any { return &v.CPU }},
	{"memory", "an integer number of MiB", func(v *Vars) any { return &v.Memory }},
	{"log_group", "a string", func(v *Vars) any { return &v.LogGroup }},
	{"stream_prefix", "a string", func(v *Vars) any { return &v.StreamPrefix }},
	{"platform_version", "a string", func(v *Vars) any { return &v.PlatformVersion }},
	{"task_definition", "a string", func(v *Vars) any { return &v.TaskDefinition }},
	{"container_name", "a string", func(v *Vars) any { return &v.ContainerName }},
	{"tags", "an object of strings", func(v *Vars) any { return &v.Tags }},
}

// VarNames returns the names of the ecs job variables.
func VarNames() []string {
	names := make([]string, len(varSpecs))
	for i, s := range varSpecs {
		names[i] = s.name
	}
	return names
}

// ParseVars reads the ecs variables of merged, a JSON object of job
// variables ("" for none); other variables are ignored. A variable of the
// wrong JSON type is reported as a [*FieldError]. ParseVars does not judge
// the values; see [Vars.Check].
func ParseVars(merged string) (Vars, error) {
	var v Vars
	if merged == "" {
		return v, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(merged), &raw); err != nil {
		return Vars{}, fmt.Errorf("decode job variables: %w", err)
	}
	for _, s := range varSpecs {
		text, ok := raw[s.name]
		if !ok || string(text) == "null" {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(s.dst(&v)); err != nil {
			return Vars{}, fieldErr(s.name, "must be %s", s.kind)
		}
	}
	return v, nil
}

// Over returns base with the present variables of v laid over it: each
// replaces its field, tags are added key by key, and launch_type or a
// non-empty capacity_provider_strategy replaces the other as well, since
// they are one choice. base is not changed.
func (v Vars) Over(base TaskConfig) TaskConfig {
	c := base
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Cluster, v.Cluster)
	if v.LaunchType != nil {
		c.LaunchType, c.CapacityProviders = *v.LaunchType, nil
	}
	if v.CapacityProviderStrategy != nil {
		c.CapacityProviders = slices.Clone(*v.CapacityProviderStrategy)
		if len(c.CapacityProviders) > 0 && v.LaunchType == nil {
			c.LaunchType = ""
		}
	}
	if v.Subnets != nil {
		c.Subnets = slices.Clone(*v.Subnets)
	}
	if v.SecurityGroups != nil {
		c.SecurityGroups = slices.Clone(*v.SecurityGroups)
	}
	if v.AssignPublicIP != nil {
		c.AssignPublicIP = *v.AssignPublicIP
	}
	set(&c.NetworkMode, v.NetworkMode)
	set(&c.TaskRoleARN, v.TaskRoleARN)
	set(&c.ExecutionRoleARN, v.ExecutionRoleARN)
	if v.CPU != nil {
		c.CPU = *v.CPU
	}
	if v.Memory != nil {
		c.Memory = *v.Memory
	}
	set(&c.LogGroup, v.LogGroup)
	set(&c.StreamPrefix, v.StreamPrefix)
	set(&c.PlatformVersion, v.PlatformVersion)
	set(&c.TaskDefinition, v.TaskDefinition)
	set(&c.ContainerName, v.ContainerName)
	if v.Tags != nil {
		tags := maps.Clone(base.Tags)
		if tags == nil {
			tags = make(map[string]string, len(v.Tags))
		}
		maps.Copy(tags, v.Tags)
		c.Tags = tags
	}
	return c
}

// Check reports, as a [*FieldError], the first present variable of v that
// is wrong on its own or contradicted by another present variable. An
// absent variable is never an error, since the agent's config may supply
// it; see the package documentation for the rule.
func (v Vars) Check() error {
	if err := v.checkEach(); err != nil {
		return err
	}

	launchType := v.LaunchType != nil
	strategy := v.CapacityProviderStrategy != nil && len(*v.CapacityProviderStrategy) > 0
	if launchType && strategy {
		return fieldErr("capacity_provider_strategy",
			"cannot be combined with launch_type %s; set launch_type to null to use a strategy", *v.LaunchType)
	}
	// Whether the task runs on Fargate is known only when the variables
	// choose the launch type or the strategy; otherwise the agent decides.
	fargate := launchType && *v.LaunchType == LaunchTypeFargate ||
		strategy && strategyFargate(*v.CapacityProviderStrategy)
	notFargate := launchType && *v.LaunchType != LaunchTypeFargate ||
		strategy && !strategyFargate(*v.CapacityProviderStrategy)

	awsvpc := v.NetworkMode == nil || *v.NetworkMode == NetworkModeAwsvpc
	if !awsvpc && fargate {
		return fieldErr("network_mode", "Fargate needs awsvpc, not %s", *v.NetworkMode)
	}
	// An empty list replaces the agent's subnets, so awsvpc, the default
	// network mode and Fargate's only one, would have none.
	if v.Subnets != nil && len(*v.Subnets) == 0 && awsvpc {
		return fieldErr("subnets", "is an empty list, which leaves awsvpc networking without a subnet; "+
			"list at least one subnet, leave subnets out to use the agent's, or set network_mode to bridge, host or none")
	}
	if v.PlatformVersion != nil && notFargate {
		return fieldErr("platform_version", "is only for Fargate")
	}
	if fargate && v.TaskDefinition == nil && v.CPU != nil {
		if v.Memory != nil {
			return CheckResources(true, *v.CPU, *v.Memory)
		}
		return checkFargateCPU(*v.CPU)
	}
	return nil
}

// checkEach checks each present variable on its own.
func (v Vars) checkEach() error {
	// A TaskConfig treats an empty string as unset, so present empty
	// strings are rejected first; then each set field is checked as one.
	for _, f := range []struct {
		field string
		p     *string
	}{
		{"cluster", v.Cluster}, {"launch_type", v.LaunchType}, {"network_mode", v.NetworkMode},
		{"task_role_arn", v.TaskRoleARN}, {"execution_role_arn", v.ExecutionRoleARN},
		{"log_group", v.LogGroup}, {"stream_prefix", v.StreamPrefix},
		{"platform_version", v.PlatformVersion}, {"task_definition", v.TaskDefinition},
		{"container_name", v.ContainerName},
	} {
		if f.p != nil && *f.p == "" {
			return fieldErr(f.field, "is empty; leave the variable out to keep the agent's setting")
		}
	}
	if v.CPU != nil && *v.CPU <= 0 {
		return fieldErr("cpu", "must be a positive number of ECS CPU units (1024 = one vCPU)")
	}
	if v.Memory != nil && *v.Memory <= 0 {
		return fieldErr("memory", "must be a positive number of MiB")
	}
	return v.Over(TaskConfig{}).checkEach()
}
