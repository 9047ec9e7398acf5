package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/ferryhq/ferry/agent/internal/launch/docker"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/agent/internal/policy"
	"github.com/ferryhq/ferry/agent/internal/supervisor"
	"github.com/ferryhq/ferry/agent/internal/verify"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// errNoTrustedKeys is returned by newVerifier when the agent has no keys to
// check orders with and the operator did not allow unsigned orders.
var errNoTrustedKeys = errors.New("no trusted signing keys: set --trusted-keys-file to the output of " +
	"`ferry keys ls --output agent`, or --allow-unsigned-orders for development")

// unsignedWarning is logged, as the warning field, at start and for every
// order while unsigned orders are allowed.
const unsignedWarning = "WORK ORDERS ARE NOT VERIFIED: unsigned orders are allowed; " +
	"anyone who can reach the control plane's agent API as this agent can run anything here. " +
	"For development only: set trusted_keys_file in production"

// newVerifier returns the verifier of the trusted keys file, or nil when
// the operator allowed unsigned orders and gave no keys.
func newVerifier(c config) (*verify.Verifier, error) {
	if c.trustedKeysFile == "" {
		if c.allowUnsigned {
			return nil, nil
		}
		return nil, errNoTrustedKeys
	}
	keys, err := verify.LoadTrustedKeys(c.trustedKeysFile)
	if err != nil {
		return nil, fmt.Errorf("trusted keys file: %w", err)
	}
	v, err := verify.New(keys, verify.Config{KeysSource: c.trustedKeysFile})
	if err != nil {
		return nil, fmt.Errorf("trusted keys file %s: %w", c.trustedKeysFile, err)
	}
	return v, nil
}

// newPolicy compiles the agent's local policy. A Rego error is returned as
// a *policy.CompileError, whose text gives file:line:col.
func newPolicy(ctx context.Context, c config) (*policy.Policy, error) {
	p, err := policy.New(ctx, c.policy.Config)
	var ce *policy.CompileError
	switch {
	case errors.As(err, &ce):
		return nil, err // "policy does not compile: file:line:col: ..."
	case err != nil && c.policy.source != "":
		return nil, fmt.Errorf("agent policy (settings at %s): %w", c.policy.source, err)
	case err != nil:
		return nil, fmt.Errorf("agent policy: %w", err)
	}
	return p, nil
}

// newDockerLauncher returns the launcher of docker pools. It does not
// contact the engine, so an agent of a process pool starts on a host
// without Docker.
func newDockerLauncher(c config, logger *slog.Logger) (*docker.Launcher, error) {
	l, err := docker.New(docker.Config{
		Host:           c.docker.host,
		AgentName:      c.name,
		Logger:         logger,
		RegistryAuth:   c.docker.credentials,
		DefaultNetwork: c.docker.network,
	})
	if err != nil {
		return nil, fmt.Errorf("docker launcher: %w", err)
	}
	return l, nil
}

// loadAWSConfig loads the AWS configuration of ecs pools: the default
// credential chain (normally the agent's role), in the section's region.
func loadAWSConfig(ctx context.Context, s ecsSettings) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if s.region != "" {
		opts = append(opts, awsconfig.WithRegion(s.region))
	}
	if s.endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(s.endpoint))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("ecs: load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("ecs.region: no AWS region: set ecs.region in the config file or $AWS_REGION")
	}
	return cfg, nil
}

// newECSLauncher returns the launcher of ecs pools. It does not call AWS.
func newECSLauncher(ctx context.Context, c config, logger *slog.Logger) (*ecs.Launcher, error) {
	awsCfg, err := loadAWSConfig(ctx, c.ecs)
	if err != nil {
		return nil, err
	}
	l, err := ecs.New(ecs.Config{
		AWS:           awsCfg,
		AccountID:     c.ecs.accountID,
		Task:          c.ecs.task,
		OtherClusters: c.ecs.otherClusters,
		AgentName:     c.name,
		Logger:        logger,

		PollInterval: c.ecs.pollInterval,
		LogInterval:  c.ecs.logInterval,
		CallTimeout:  c.ecs.callTimeout,
		DrainTimeout: c.ecs.drainTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("ecs launcher: %w", err)
	}
	return l, nil
}

// orderPolicy adapts [policy.Policy] to [supervisor.Policy]. The supervisor
// evaluates it once for each order it is about to launch.
type orderPolicy struct {
	policy    *policy.Policy
	agentName string
	// unsigned makes every evaluation log [unsignedWarning], as the order
	// being judged was not verified.
	unsigned bool
	log      *slog.Logger
}

var _ supervisor.Policy = orderPolicy{}

// Evaluate implements [supervisor.Policy].
//
// Known limitation: the policy input's agent.pool is empty, since
// [supervisor.Policy] does not pass the pool the Welcome named.
func (p orderPolicy) Evaluate(
	ctx context.Context,
	runID string,
	attempt int32,
	job *ferryv1.JobSpec,
) ([]string, error) {
	if p.unsigned {
		p.log.WarnContext(ctx, "work order not verified", "run_id", runID, "attempt", attempt,
			"warning", unsignedWarning)
	}
	d, err := p.policy.Evaluate(ctx, policy.Input{RunID: runID, Attempt: attempt, Job: job, AgentName: p.agentName})
	return d.Denials, err
}
