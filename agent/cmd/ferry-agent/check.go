package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/docker/docker/client"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/policy"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// checkCallTimeout bounds each outbound call of a check: long enough for a
// slow network, short enough that a person waiting sees an answer.
const checkCallTimeout = 10 * time.Second

// Outcomes of a check, as printed at the start of its line.
const (
	checkOK   = "OK"
	checkFail = "FAIL"
	checkWarn = "WARN"
	checkSkip = "SKIP"
)

// checker prints one line per check and remembers whether any failed.
type checker struct {
	out    io.Writer
	failed bool
}

func (ck *checker) line(outcome, what, detail string) {
	fmt.Fprintf(ck.out, "%-4s  %s: %s\n", outcome, what, detail)
	if outcome == checkFail {
		ck.failed = true
	}
}

// runCheck is `ferry-agent check`: it tests what the agent needs before it
// can serve, one line each, and returns 0 when nothing failed, else 1.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ck := &checker{out: stdout}
	c, err := loadConfig(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err == nil && c.showVersion:
		fmt.Fprintf(stdout, "ferry-agent %s\n", agentVersion())
		return 0
	case err == nil:
		err = c.complete()
	}
	if err != nil {
		ck.line(checkFail, "config", err.Error())
		ck.line(checkSkip, "other checks", "fix the configuration first")
		return 1
	}
	source := "from flags and environment variables only"
	if c.configFile != "" {
		source = "read " + c.configFile
	}
	ck.line(checkOK, "config", source+fmt.Sprintf("; agent %q, capacity %d, work dir %s", c.name, c.capacity, c.workDir))

	ck.controlPlane(ctx, c)
	ck.trustedKeys(c)
	ck.dockerEngine(ctx, c)
	ck.ecsCluster(ctx, c)
	ck.agentPolicy(ctx, c)
	if ck.failed {
		return 1
	}
	return 0
}

// controlPlane checks the server URL, that the control plane answers, and
// that it accepts the agent token.
func (ck *checker) controlPlane(ctx context.Context, c config) {
	if err := c.checkServer(); err != nil {
		ck.line(checkFail, "server URL", err.Error())
		ck.line(checkSkip, "control plane", "fix the server URL first")
		return
	}
	ck.line(checkOK, "server URL", c.server)

	httpClient := conn.NewHTTPClient()
	base := strings.TrimRight(c.server, "/")
	if err := healthz(ctx, httpClient, base); err != nil {
		ck.line(checkFail, "control plane reachable", err.Error())
		ck.line(checkSkip, "agent token", "the control plane must be reachable first")
		return
	}
	ck.line(checkOK, "control plane reachable", base+"/healthz answered ok")

	// A Heartbeat with a random session id tests the token without side
	// effects: the control plane authenticates the call first, then finds
	// no such session and answers resubscribe (FailedPrecondition, which
	// conn also reads as an unknown session, counts too), while a refused
	// token gets Unauthenticated or PermissionDenied. A Subscribe stream
	// would register an agent session, which could be offered work.
	outcome, detail := checkToken(ctx, httpClient, base, c.token)
	ck.line(outcome, "agent token", detail)
}

func healthz(ctx context.Context, hc *http.Client, base string) error {
	ctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w; check the URL, DNS, firewalls and $HTTPS_PROXY", base, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/healthz answered %s: the control plane is not healthy, or the URL "+
			"points at something else; see the control plane's log", base, resp.Status)
	}
	return nil
}

func checkToken(ctx context.Context, hc *http.Client, base, token string) (outcome, detail string) {
	ctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	agents := ferryv1connect.NewAgentServiceClient(hc, base)
	req := connect.NewRequest(&ferryv1.HeartbeatRequest{SessionId: uuid.NewString()})
	req.Header().Set("Authorization", "Bearer "+token)
	_, err := agents.Heartbeat(ctx, req)
	if err == nil {
		return checkOK, "accepted by the control plane"
	}
	switch connect.CodeOf(err) {
	case connect.CodeFailedPrecondition:
		return checkOK, "accepted by the control plane"
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return checkFail, "refused by the control plane (revoked, expired, or for another " +
			"control plane); issue a new one with 'ferry agent token create --pool POOL --name NAME'"
	}
	return checkFail, fmt.Sprintf("the control plane did not answer as expected: %v", err)
}

// trustedKeys checks that the trusted keys file loads.
func (ck *checker) trustedKeys(c config) {
	v, err := newVerifier(c)
	switch {
	case err != nil:
		ck.line(checkFail, "trusted keys", err.Error())
	case v == nil:
		ck.line(checkWarn, "trusted keys", "none: unsigned work orders are allowed, which is for "+
			"development only; set trusted_keys_file to the output of 'ferry keys ls --output agent'")
	default:
		ids := v.KeyIDs()
		ck.line(checkOK, "trusted keys", fmt.Sprintf("%d from %s: %s", len(ids), c.trustedKeysFile, strings.Join(ids, ", ")))
	}
}

// dockerEngine checks that the Docker engine answers, when one is
// configured.
func (ck *checker) dockerEngine(ctx context.Context, c config) {
	if !c.docker.configured {
		ck.line(checkSkip, "docker", "no Docker engine configured (docker.host, --docker-host or "+
			"$DOCKER_HOST); only docker pools need one")
		return
	}
	host := c.docker.host
	if host == "" {
		host = client.DefaultDockerHost
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		ck.line(checkFail, "docker", fmt.Sprintf("engine address %s is not usable: %v", host, err))
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		ck.line(checkFail, "docker", fmt.Sprintf("the engine at %s does not answer: %v; "+
			"is dockerd running, and may this user open its socket?", host, err))
		return
	}
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		ck.line(checkFail, "docker", fmt.Sprintf("the engine at %s answers but not its version: %v", host, err))
		return
	}
	ck.line(checkOK, "docker", fmt.Sprintf("engine at %s: Docker %s, API %s", host, v.Version, v.APIVersion))
}

// ecsCluster checks, when the config file has an ecs section, that the
// agent's AWS credentials may read the cluster's tasks.
func (ck *checker) ecsCluster(ctx context.Context, c config) {
	if !c.ecs.configured {
		ck.line(checkSkip, "ecs", "no ecs section in the config file; only ecs pools need one")
		return
	}
	awsCfg, err := loadAWSConfig(ctx, c.ecs)
	if err != nil {
		ck.line(checkFail, "ecs", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	cluster := c.ecs.task.Cluster
	_, err = awsecs.NewFromConfig(awsCfg).ListTasks(ctx, &awsecs.ListTasksInput{
		Cluster:    aws.String(cluster),
		MaxResults: aws.Int32(1),
	})
	if err != nil {
		ck.line(checkFail, "ecs", fmt.Sprintf("cannot list the tasks of cluster %s in %s: %v; check the "+
			"cluster's name, the region and that the agent's role may call ecs:ListTasks", cluster, awsCfg.Region, err))
		return
	}
	ck.line(checkOK, "ecs", fmt.Sprintf("config valid; cluster %s in %s answers", cluster, awsCfg.Region))
}

// agentPolicy checks that the policy compiles and judges a sample order.
func (ck *checker) agentPolicy(ctx context.Context, c config) {
	p, err := newPolicy(ctx, c)
	if err != nil {
		ck.line(checkFail, "policy", err.Error()+"; fix the policy files or settings")
		return
	}
	poolType := "process"
	if c.docker.configured {
		poolType = "docker"
	}
	job := &ferryv1.JobSpec{
		Deployment: "ferry-agent-check",
		PoolType:   poolType,
		Command:    []string{"true"},
	}
	if poolType == "docker" {
		job.Image = "busybox:latest"
	}
	d, err := p.Evaluate(ctx, policy.Input{RunID: uuid.NewString(), Attempt: 1, Job: job, AgentName: c.name})
	switch {
	case err != nil:
		ck.line(checkFail, "policy", fmt.Sprintf("compiles but cannot judge a sample order: %v", err))
	case d.Allowed:
		ck.line(checkOK, "policy", fmt.Sprintf("compiles; a sample %s order (%s) is allowed", poolType, sampleWhat(job)))
	default:
		ck.line(checkOK, "policy", fmt.Sprintf("compiles; a sample %s order (%s) is denied: %s",
			poolType, sampleWhat(job), d.Message()))
	}
}

func sampleWhat(job *ferryv1.JobSpec) string {
	what := strings.Join(job.GetCommand(), " ")
	if job.GetImage() != "" {
		what = job.GetImage() + " " + what
	}
	return what
}
