package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/bench/internal/serverproc"
	"github.com/ferryhq/ferry/bench/internal/simagent"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const (
	// subscribeParallel bounds the Subscribe calls in flight while the
	// idle agents connect.
	subscribeParallel = 32
	// settleInterval and settleTimeout govern the wait for the server's
	// RSS to stop moving before a sample is taken.
	settleInterval = 500 * time.Millisecond
	settleTimeout  = 15 * time.Second
	// idleCPUWindow is how long the server's CPU use is watched while the
	// idle agents stay connected.
	idleCPUWindow = 5 * time.Second
)

// memoryPhase opens many idle Subscribe streams, each agent with its own
// name and its own connection, and divides the growth of the server's RSS
// by their number.
func memoryPhase(ctx context.Context, e *env) error {
	const pool = "bench-memory"
	n := e.cfg.idleAgents
	before, err := settledRSS(ctx, e.srv)
	if err != nil {
		return err
	}
	mBefore, err := serverMetrics(ctx, e.srv.URL())
	if err != nil {
		return err
	}

	agents := make([]*simagent.Agent, n)
	clients := make([]*http.Client, n)
	defer func() {
		var g errgroup.Group
		for i := range agents {
			g.Go(func() error {
				if agents[i] != nil {
					agents[i].Close()
				}
				if clients[i] != nil {
					closeIdle(clients[i])
				}
				return nil
			})
		}
		_ = g.Wait()
	}()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(subscribeParallel)
	for i := range n {
		g.Go(func() error {
			hc, err := e.agentClient(pool)
			if err != nil {
				return err
			}
			clients[i] = hc
			ag, err := simagent.Subscribe(gctx, ferryv1connect.NewAgentServiceClient(hc, e.srv.URL()), fmt.Sprintf("idle-%04d", i+1), 1)
			agents[i] = ag
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	connected := time.Since(start)

	after, err := settledRSS(ctx, e.srv)
	if err != nil {
		return err
	}
	cpuServer, cpuPG, err := idleCPUShare(ctx, e.srv, idleCPUWindow)
	if err != nil {
		return err
	}
	mAfter, err := serverMetrics(ctx, e.srv.URL())
	if err != nil {
		return err
	}
	e.note("idle agents: %d Subscribe streams over %s, one TCP connection each, connected in %.2fs; server RSS %d -> %d KiB, Go heap in use %.0f -> %.0f KiB, goroutines %.0f -> %.0f",
		n, e.cfg.proto, connected.Seconds(), before, after,
		mBefore.heapInuse/1024, mAfter.heapInuse/1024, mBefore.goroutines, mAfter.goroutines)
	e.note("idle agents: CPU while they stay connected and idle, over %s: server %.1f%%, its PostgreSQL %.1f%% of one core",
		idleCPUWindow, cpuServer*100, cpuPG*100)
	e.figure("rss_per_idle_agent_kib", float64(after-before)/float64(n))
	e.figure("heap_per_idle_agent_kib", (mAfter.heapInuse-mBefore.heapInuse)/1024/float64(n))
	return nil
}

// settledRSS samples the server's RSS until two samples in a row differ by
// less than 1%, or until settleTimeout, and returns the last.
func settledRSS(ctx context.Context, srv *serverproc.Server) (int64, error) {
	prev, err := srv.RSS()
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(settleTimeout)
	tick := time.NewTicker(settleInterval)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-tick.C:
		}
		cur, err := srv.RSS()
		if err != nil {
			return 0, err
		}
		if d := cur - prev; d*100 < prev && -d*100 < prev {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// idleCPUShare returns the share of one core the server and its
// PostgreSQL used during window.
func idleCPUShare(ctx context.Context, srv *serverproc.Server, window time.Duration) (server, postgres float64, err error) {
	s0, p0, err := srv.CPUTime()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	timer := time.NewTimer(window)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return 0, 0, context.Cause(ctx)
	case <-timer.C:
	}
	s1, p1, err := srv.CPUTime()
	if err != nil {
		return 0, 0, err
	}
	elapsed := float64(time.Since(start))
	return float64(s1-s0) / elapsed, float64(p1-p0) / elapsed, nil
}

// metrics are the server's Go runtime figures from /metrics.
type metrics struct {
	heapInuse  float64
	goroutines float64
}

// serverMetrics reads the server's /metrics page.
func serverMetrics(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return metrics{}, fmt.Errorf("build metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metrics{}, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metrics{}, fmt.Errorf("read metrics: %s", resp.Status)
	}
	var m metrics
	want := map[string]*float64{"go_memstats_heap_inuse_bytes": &m.heapInuse, "go_goroutines": &m.goroutines}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if dst := want[name]; ok && dst != nil {
			if *dst, err = strconv.ParseFloat(value, 64); err != nil {
				return metrics{}, fmt.Errorf("parse metric %s: %w", name, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return metrics{}, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}
