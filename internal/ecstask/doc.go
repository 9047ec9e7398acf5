// Package ecstask holds the placement and sizing settings of an Amazon ECS
// task that Ferry runs ([TaskConfig]), the rules they must follow, and the
// job variables of ecs work pools that set them ([Vars]).
//
// Both sides use it, so the rules are written once: the control plane
// checks the variables of a pool's template, a deployment and a run with
// [Vars.Check] when they are applied, and the agent lays the variables of a
// work order over the ecs section of its config file with [Vars.Over] and
// checks the result with [TaskConfig.Validate] before it calls RunTask.
//
// The job variables of ecs pools (all optional, snake_case):
//
//   - cluster: the cluster's name or ARN; the agent accepts only its own
//     cluster and those of its ecs.other_clusters;
//   - launch_type: FARGATE, EC2 or EXTERNAL;
//   - capacity_provider_strategy: a list of {name, weight, base}, used
//     instead of a launch type;
//   - subnets, security_groups: lists of subnet-... and sg-... ids;
//   - assign_public_ip: a boolean;
//   - network_mode: awsvpc, bridge, host or none;
//   - task_role_arn, execution_role_arn: IAM role ARNs;
//   - cpu: the task's CPU in ECS units (1024 = one vCPU); memory: its memory
//     in MiB;
//   - log_group, stream_prefix: where the awslogs driver writes;
//   - platform_version: Fargate's platform version, such as "1.4.0";
//   - task_definition: the ARN of an existing task definition to run;
//   - container_name: the name of the run's container;
//   - tags: an object of tags added to the task and its task definition.
//
// A variable that is absent or null leaves the agent's setting in place;
// a present one replaces it, field by field, except tags, which are laid
// over the agent's tags key by key. launch_type and a non-empty
// capacity_provider_strategy are one choice: setting one drops the agent's
// other.
//
// Apply-time rule: the control plane cannot know the agent's config, so a
// variable may be left to the agent, and [Vars.Check] never rejects an
// absent one. It rejects what is present and wrong by itself (an unknown
// launch type, a malformed ARN, a tag with a reserved prefix, an empty
// string) and what the present variables contradict among themselves (a
// launch type with a capacity provider strategy, Fargate with a network
// mode other than awsvpc or with a cpu/memory pair it does not offer, an
// empty subnets list without a non-awsvpc network_mode). Fargate rules apply
// when the variables choose Fargate: launch_type FARGATE or a FARGATE or
// FARGATE_SPOT capacity provider. What depends on the agent's settings is
// checked by the agent, which fails the run with the field named.
//
// The package does no I/O and never calls AWS.
package ecstask
