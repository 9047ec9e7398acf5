// Command loaddriver measures a real ferry control plane. It starts
// `bin/ferry server` on a free loopback port with its own data directory and
// embedded PostgreSQL, sets up pools, no-op deployments and agent tokens
// through the API, plays agents over AgentService, and prints one line per
// figure:
//
//	rss_per_idle_agent_kib      server RSS growth per idle Subscribe stream
//	dispatch_latency_p50_ms     CreateRun returned -> work order on the stream
//	dispatch_latency_p99_ms
//	e2e_throughput_runs_per_s   creation to COMPLETED, several agents
//	log_ingest_lines_per_s      SendLogs, batches of 1,000 lines
//	bulk_create_runs_per_s      CreateRuns, batches of 1,000
//	docker_launch_overhead_p50_ms  a Ferry run of a no-op container less
//	                            `docker run --rm` of it (needs dockerd)
//	cheap_read_calls_per_s      RunService/GetRun, concurrent callers
//	ui_list_runs_first_page_p50_ms  ListRuns, first page, 1,000,000 runs
//	ui_list_runs_filter_change_p50_ms  ListRuns after a filter change
//	ui_run_stats_p50_ms         GetRunStats, last 24 h by hour
//
// Lines starting with "#" describe the machine and the settings. The driver
// runs on the same machine as the server and competes with it for CPU.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/bench/internal/serverproc"
)

// config holds the driver's settings.
type config struct {
	ferry    string
	proto    string
	phases   string
	keepData bool

	idleAgents int

	latencyRuns   int
	latencyWarmup int

	e2eRuns     int
	e2eAgents   int
	e2eCapacity int
	e2eBatch    int
	e2eTimeout  time.Duration

	logLines int
	logRuns  int

	createRuns    int
	createBatch   int
	createWorkers int

	agent      string
	dockerHost string
	dockerRuns int
}

// allPhases lists the phases in the order they run: memory first, on a
// server that has done little else, then bulk creation, so the runs it
// leaves waiting do not weigh on the others, and ui last, since its
// 1,000,000 runs would.
var allPhases = []string{"memory", "latency", "e2e", "logs", "docker", "authz", "create", "ui"}

func main() {
	var cfg config
	flag.StringVar(&cfg.ferry, "ferry", "bin/ferry", "path of the ferry binary")
	flag.StringVar(&cfg.proto, "proto", protoHTTP1, "HTTP version the simulated agents and the admin client speak: http1 (what ferry-agent uses for http:// URLs) or h2c")
	flag.StringVar(&cfg.phases, "phases", strings.Join(allPhases, ","), "comma-separated phases to run")
	flag.BoolVar(&cfg.keepData, "keep-data", false, "keep the server's data directory")
	flag.IntVar(&cfg.idleAgents, "idle-agents", 1000, "idle Subscribe streams opened by the memory phase, one connection each")
	flag.IntVar(&cfg.latencyRuns, "latency-runs", 2000, "sequential runs timed by the latency phase")
	flag.IntVar(&cfg.latencyWarmup, "latency-warmup", 50, "runs dispatched before the latency phase starts timing")
	flag.IntVar(&cfg.e2eRuns, "e2e-runs", 20000, "runs created and completed by the throughput phase")
	flag.IntVar(&cfg.e2eAgents, "e2e-agents", 4, "agents of the throughput phase")
	flag.IntVar(&cfg.e2eCapacity, "e2e-capacity", 1000, "capacity of each throughput agent")
	flag.IntVar(&cfg.e2eBatch, "e2e-batch", 1000, "runs per CreateRuns call in the throughput phase")
	flag.DurationVar(&cfg.e2eTimeout, "e2e-timeout", 3*time.Minute, "give up on the throughput phase after this long")
	flag.IntVar(&cfg.logLines, "log-lines", 400_000, "log lines sent by the log phase (a multiple of 1,000 per run)")
	flag.IntVar(&cfg.logRuns, "log-runs", 8, "runs whose logs are sent in parallel")
	flag.IntVar(&cfg.createRuns, "create-runs", 30_000, "runs created by the bulk creation phase")
	flag.IntVar(&cfg.createBatch, "create-batch", 1000, "runs per CreateRuns call in the bulk creation phase")
	flag.IntVar(&cfg.createWorkers, "create-workers", 2, "concurrent CreateRuns callers in the bulk creation phase")
	flag.StringVar(&cfg.agent, "agent", "bin/ferry-agent", "path of the ferry-agent binary the docker phase runs")
	flag.StringVar(&cfg.dockerHost, "docker-host", "", "Docker engine of the docker phase, such as unix:///run/docker.sock; empty starts a private dockerd")
	flag.IntVar(&cfg.dockerRuns, "docker-runs", 30, "sequential runs of each kind timed by the docker phase")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loaddriver:", err)
		os.Exit(1)
	}
}

// env is what every phase works with.
type env struct {
	cfg    config
	srv    *serverproc.Server
	admin  adminClients
	out    io.Writer
	tokens map[string]string // agent token by pool name
}

// figure prints one measured figure.
func (e *env) figure(name string, value float64) {
	fmt.Fprintf(e.out, "%s %s\n", name, formatValue(value))
}

// note prints a line that explains a figure.
func (e *env) note(format string, args ...any) {
	fmt.Fprintf(e.out, "# "+format+"\n", args...)
}

// cpuMeter measures the CPU time the server and its PostgreSQL use
// between [env.startCPU] and [cpuMeter.note].
type cpuMeter struct {
	e              *env
	server, postgr time.Duration
	err            error
}

// startCPU starts measuring the CPU time of the server and its PostgreSQL.
func (e *env) startCPU() *cpuMeter {
	m := &cpuMeter{e: e}
	m.server, m.postgr, m.err = e.srv.CPUTime()
	return m
}

// note prints the CPU time used since startCPU, per 1,000 of what the
// phase counts (runs, lines), which depends less on the machine's other
// load than a rate does.
func (m *cpuMeter) note(phase string, n int, unit string) {
	s, p, err := m.e.srv.CPUTime()
	if err == nil {
		err = m.err
	}
	if err != nil {
		m.e.note("%s: CPU time unavailable: %v", phase, err)
		return
	}
	k := float64(n) / 1000
	m.e.note("%s: CPU per 1,000 %s: server %.1f ms, its PostgreSQL %.1f ms", phase, unit,
		millis(s-m.server)/k, millis(p-m.postgr)/k)
}

func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	phases, err := selectPhases(cfg.phases)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# machine: nproc=%d cpu=%q go=%s os=%s/%s\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)

	srv, err := serverproc.Start(ctx, serverproc.Config{
		// The per-credential rate limits would measure themselves.
		Binary: cfg.ferry, KeepData: cfg.keepData, Args: []string{"--log-level", "warn",
			"--rate-limit", "1e9", "--rate-burst", "1000000000", "--agent-rate-limit", "1e9", "--agent-rate-burst", "1000000000"},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			srv.Keep()
			err = fmt.Errorf("%w (server data and log kept in %s)", err, srv.DataDir())
		}
		if serr := srv.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Fprintf(out, "# server: %s pid=%d data=%s proto=%s\n", srv.URL(), srv.PID(), srv.DataDir(), cfg.proto)

	hc, err := newHTTPClient(cfg.proto, srv.AdminKey())
	if err != nil {
		return err
	}
	e := &env{cfg: cfg, srv: srv, admin: newAdminClients(hc, srv.URL()), out: out, tokens: make(map[string]string)}
	for _, p := range phases {
		pool := "bench-" + p
		tok, err := applyPool(ctx, e.admin, pool)
		if err != nil {
			return err
		}
		e.tokens[pool] = tok
	}
	for _, p := range phases {
		if err := phaseFuncs[p](ctx, e); err != nil {
			return fmt.Errorf("%s phase: %w", p, err)
		}
	}
	return nil
}

var phaseFuncs = map[string]func(context.Context, *env) error{
	"memory":  memoryPhase,
	"latency": latencyPhase,
	"e2e":     e2ePhase,
	"logs":    logsPhase,
	"docker":  dockerPhase,
	"authz":   authzPhase,
	"create":  createPhase,
	"ui":      uiPhase,
}

// selectPhases parses the -phases flag, keeping the canonical order.
func selectPhases(list string) ([]string, error) {
	want := make(map[string]bool)
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, ok := phaseFuncs[p]; !ok {
			return nil, fmt.Errorf("unknown phase %q: want some of %s", p, strings.Join(allPhases, ","))
		}
		want[p] = true
	}
	var out []string
	for _, p := range allPhases {
		if want[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no phase selected")
	}
	return out, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// agentClient returns an HTTP client for a simulated agent of pool.
func (e *env) agentClient(pool string) (*http.Client, error) {
	return newHTTPClient(e.cfg.proto, e.tokens[pool])
}
