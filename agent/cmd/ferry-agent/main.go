// Command ferry-agent runs Ferry's work in a customer network. It dials out
// to the control plane, receives work orders for its pool, launches each run
// and reports what happens to it. It listens on no port unless
// --metrics-addr is given.
//
// Configuration comes from flags and FERRY_* environment variables; run
// ferry-agent -h for the list. Logs are JSON lines on standard error.
//
// Exit status: 0 after a graceful shutdown (SIGTERM or SIGINT), 1 when the
// agent cannot go on (token refused, unsupported pool type, bad
// configuration at start), 2 for a usage error.
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

	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := serve(ctx, cfg, logger); err != nil {
		logger.ErrorContext(ctx, "agent stopped", "error", err)
		return 1
	}
	return 0
}

// serve wires the agent and runs it until ctx ends or it cannot go on.
func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
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
	launcher, err := process.New(process.Config{Logger: logger.With("component", "launch")})
	if err != nil {
		return err
	}
	sup, err := supervisor.New(supervisor.Config{
		Conn:          client,
		Launchers:     map[string]launch.Launcher{"process": launcher},
		Capacity:      cfg.capacity,
		WorkDir:       cfg.workDir,
		ShutdownGrace: cfg.shutdownGrace,
		Logger:        logger,
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

	logger.InfoContext(ctx, "agent starting", "name", cfg.name, "version", agentVersion(),
		"server", cfg.server, "capacity", cfg.capacity)
	err = sup.Run(ctx)
	switch {
	case errors.Is(err, conn.ErrUnauthorized):
		return fmt.Errorf("the control plane refused the agent token (revoked, expired or wrong); "+
			"issue a new token with 'ferry agent token' and restart the agent: %w", err)
	case errors.Is(err, supervisor.ErrUnsupportedPool):
		return fmt.Errorf("this agent supports only process pools: %w", err)
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
