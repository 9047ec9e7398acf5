// Package ecs is the [launch.Launcher] of "ecs" work pools: it runs each job
// as an Amazon ECS task (Fargate or EC2) in the account of the agent, with
// the agent's own AWS credentials. It never talks to the control plane, and
// no AWS credential leaves the agent.
//
// A start registers a task definition built from the job (image, user,
// working directory, secrets, stop timeout, awslogs logging) and the pool's
// [TaskConfig] (roles, cpu, memory, network mode). Its family is the
// configured prefix and a digest of that content, so an unchanged job reuses
// the task definition registered for it before. A pool may instead name an
// existing task definition. RunTask then starts the task with an idempotency
// token derived from the run id and attempt, startedBy "ferry-" and the run
// id, tags recording the attempt, and container overrides for the command and
// environment. Secret references (aws-sm://, aws-ssm://) become ECS secrets
// that ECS resolves with the execution role, so secret values never travel
// in the agent's calls.
//
// The task settings ([TaskConfig]: cluster, launch type or capacity
// providers, network, roles, cpu and memory, logging, tags) come from the
// agent's config file, overridden field by field by the job's ecs variables
// ([launch.Job.Variables], from the pool's template, the deployment and the
// run; see package ecstask for each). The result is validated before any
// AWS call; a bad one fails the run with the variable named.
//
// A job's cluster variable may name only the agent's cluster or one of
// [Config.OtherClusters], so that every task the launcher starts lies in a
// cluster it searches after a restart.
//
// One poller per launcher reads the status of all its tasks with
// DescribeTasks, batched by cluster, backing off on errors. Output is read
// from the task's CloudWatch Logs stream with continuation tokens; once the
// task stops, the rest is read, failed reads tried again for up to
// [Config.DrainTimeout], and if it still cannot be read the run's log says
// so before the outcome is reported. The essential
// container's exit code and the stop reason decide the outcome: exit 0
// succeeds; another code fails; an out-of-memory kill or an image pull
// failure fails with ECS's words; a capacity shortage or a Spot interruption
// is a crash. Cancel and timeout call StopTask.
//
// A RunTask that fails without an answer may have started the task, so the
// task is looked for by startedBy and tags before anything else is tried; a
// run is never launched twice. A restarted agent finds its tasks again by
// their startedBy prefix and tags in each of its clusters
// ([Launcher.Survivors]), reads an adopted task's log from where its task
// definition sends the output of the container named by its tags, and stops
// the tasks of runs the control plane no longer leases to it
// ([Launcher.Remove]).
package ecs
