// Command ferry-agent runs Ferry's work in a customer network. It dials out
// to the control plane, receives work orders for its pool, checks each
// order's signature and the agent's local policy, launches the run and
// reports what happens to it. It listens on no port unless --metrics-addr
// is given.
//
// Configuration comes from flags, FERRY_* environment variables and a YAML
// config file (--config), in that order of precedence; run ferry-agent -h
// for the list. `ferry-agent check` tests the configuration, the control
// plane, the token, the trusted keys, Docker, ECS and the policy, and says what
// to fix. Logs are JSON lines on standard error, with the secrets of the
// runs the agent holds masked.
//
// Exit status: 0 after a graceful shutdown (SIGTERM or SIGINT), 1 when the
// agent cannot go on (token refused, unsupported pool type, bad
// configuration at start) or a check failed, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/health"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/process"
	"github.com/ferryhq/ferry/agent/internal/mask"
	"github.com/ferryhq/ferry/agent/internal/secrets"
	"github.com/ferryhq/ferry/agent/internal/supervisor"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// metricsShutdownTimeout bounds the wait for in-flight scrapes at exit.
const metricsShutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole agent; ctx ending starts the graceful shutdown.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return runCheck(ctx, args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "ferry-agent: %v\n", err)
		return 2
	case cfg.showVersion:
		fmt.Fprintf(stdout, "ferry-agent %s\n", agentVersion())
		return 0
	}

	// Every record of the agent's own log is masked with the secrets of the
	// runs it holds at that moment.
	masks := mask.NewRegistry(cfg.secrets.minMaskLength)
	handler := slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel})
	logger := slog.New(masks.Handler(handler))
	if err := serve(ctx, cfg, masks, logger); err != nil {
		logger.ErrorContext(ctx, "agent stopped", "error", err)
		return 1
	}
	return 0
}

// serve wires the agent and runs it until ctx ends or it cannot go on.
func serve(ctx context.Context, cfg config, masks *mask.Registry, logger *slog.Logger) error {
	verifier, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	if verifier == nil {
		logger.WarnContext(ctx, "unsigned work orders allowed", "warning", unsignedWarning)
	}
	pol, err := newPolicy(ctx, cfg)
	if err != nil {
		return err
	}

	launchLog := logger.With("component", "launch")
	processLauncher, err := process.New(process.Config{Logger: launchLog})
	if err != nil {
		return err
	}
	launchers := map[string]launch.Launcher{"process": processLauncher}
	dockerLauncher, err := newDockerLauncher(cfg, launchLog)
	switch {
	case err == nil:
		launchers["docker"] = dockerLauncher
		defer func() { _ = dockerLauncher.Close() }()
	case cfg.docker.configured:
		return err
	default:
		// Only docker pools need the engine; the agent may well serve a
		// process pool on a host whose Docker settings are broken.
		logger.WarnContext(ctx, "docker pools unavailable", "error", err)
	}

	if cfg.ecs.configured {
		ecsLauncher, err := newECSLauncher(ctx, cfg, launchLog)
		if err != nil {
			return err
		}
		launchers["ecs"] = ecsLauncher
	}

	client, err := conn.New(conn.Config{
		ServerURL:    cfg.server,
		Token:        cfg.token,
		InsecureHTTP: cfg.insecureHTTP,
		Name:         cfg.name,
		Version:      agentVersion(),
		Capacity:     int32(cfg.capacity),
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	sup, err := supervisor.New(supervisor.Config{
		Conn:          client,
		Launchers:     launchers, // the Welcome's pool type picks one
		Capacity:      cfg.capacity,
		WorkDir:       cfg.workDir,
		ShutdownGrace: cfg.shutdownGrace,
		Logger:        logger,
		Verifier:      verifier,
		Policy: orderPolicy{
			policy:    pol,
			agentName: cfg.name,
			unsigned:  verifier == nil,
			log:       logger.With("component", "supervisor"),
		},
		Secrets:    secrets.New(secrets.Config{AWSEndpoint: cfg.secrets.awsEndpoint}),
		Masks:      masks,
		MinMaskLen: cfg.secrets.minMaskLength,
	})
	if err != nil {
		return err
	}

	if cfg.metricsAddr != "" {
		stopMetrics, err := serveMetrics(ctx, cfg.metricsAddr, client, sup, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	attrs := []any{"name", cfg.name, "version", agentVersion(), "server", cfg.server, "capacity", cfg.capacity}
	if verifier != nil {
		attrs = append(attrs, "trusted_keys", verifier.KeyIDs())
	}
	logger.InfoContext(ctx, "agent starting", attrs...)
	err = sup.Run(ctx)
	switch {
	case errors.Is(err, conn.ErrUnauthorized):
		return fmt.Errorf("the control plane refused the agent token (revoked, expired or wrong); "+
			"issue a new token with 'ferry agent token create' and restart the agent: %w", err)
	case errors.Is(err, supervisor.ErrUnsupportedPool):
		return fmt.Errorf("this agent runs process pools, docker pools when Docker is set up, "+
			"and ecs pools when its config file has an ecs section: %w", err)
	}
	return err
}

// serveMetrics serves /metrics, /healthz and /readyz on addr until the
// returned function is called.
func serveMetrics(
	ctx context.Context,
	addr string,
	client *conn.Client,
	sup *supervisor.Supervisor,
	logger *slog.Logger,
) (func(), error) {
	stat := func(f func(s supervisor.Stats) float64) func() float64 {
		return func() float64 { return f(sup.Stats()) }
	}
	metrics := []health.Metric{
		{Name: "ferry_agent_runs_active", Help: "Runs the agent holds: claiming, running or reporting.",
			Kind: health.Gauge, Value: stat(func(s supervisor.Stats) float64 { return float64(s.ActiveRuns) })},
		{Name: "ferry_agent_capacity", Help: "Runs the agent may hold at once.",
			Kind: health.Gauge, Value: stat(func(s supervisor.Stats) float64 { return float64(s.Capacity) })},
		{Name: "ferry_agent_draining", Help: "1 while the agent takes no new runs.",
			Kind: health.Gauge, Value: stat(func(s supervisor.Stats) float64 { return boolValue(s.Draining) })},
		{Name: "ferry_agent_runs_started_total", Help: "Runs launched.",
			Kind: health.Counter, Value: stat(func(s supervisor.Stats) float64 { return float64(s.RunsStarted) })},
		{Name: "ferry_agent_runs_finished_total", Help: "Runs whose final report the control plane accepted.",
			Kind: health.Counter, Value: stat(func(s supervisor.Stats) float64 { return float64(s.RunsFinished) })},
		{Name: "ferry_agent_log_lines_dropped_total", Help: "Log lines dropped because a run's buffer was full.",
			Kind: health.Counter, Value: stat(func(s supervisor.Stats) float64 { return float64(s.LogLinesDropped) })},
		{Name: "ferry_agent_connected", Help: "1 while the stream to the control plane is open.",
			Kind: health.Gauge, Value: func() float64 { return boolValue(client.Connected()) }},
		{Name: "ferry_agent_reconnects_total", Help: "Times the stream to the control plane was reopened.",
			Kind: health.Counter, Value: func() float64 { return float64(client.Reconnects()) }},
	}
	ready := func() bool { return client.Connected() && !sup.Stats().Draining }

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	srv := &http.Server{
		Handler:           health.Handler(metrics, ready),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.ErrorContext(ctx, "metrics server failed", "error", err)
		}
	}()
	logger.InfoContext(ctx, "serving metrics", "addr", ln.Addr().String())
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// agentVersion returns the version set at build time, else the module
// version recorded by go install, else "dev".
func agentVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
