package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Settings of the authorization phase.
const (
	// cheapReadCallers call GetRun concurrently.
	cheapReadCallers = 8
	// cheapReadWarmup and cheapReadWindow: calls are counted during the
	// window, after the warm-up.
	cheapReadWarmup = time.Second
	cheapReadWindow = 5 * time.Second
)

// authzPhase measures the rate of a cheap read, RunService/GetRun of one
// run, from concurrent callers against the real server, which always
// authorizes every call with the built-in policy.
//
// The authorizer's own latency (authz_p50_us, authz_p99_us) and the same
// read without the authorization interceptor are measured by the Go
// benchmarks BenchmarkAuthorizeOverhead and BenchmarkCheapRead of package
// controlplane/internal/server, which `make bench` runs first. They are
// not measured here on purpose: this driver cannot import the control
// plane's internal packages, and a server binary that could be started
// without authorization would be a switch an operator could flip in
// production. Only that package's benchmarks can build a server without
// the interceptor.
func authzPhase(ctx context.Context, e *env) error {
	ids, err := createRuns(ctx, e.admin, "bench-authz", 1)
	if err != nil {
		return err
	}
	req := &ferryv1.GetRunRequest{Id: ids[0]}

	var counting atomic.Bool
	var calls atomic.Int64
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(wctx)
	for range cheapReadCallers {
		g.Go(func() error {
			for gctx.Err() == nil {
				if _, err := e.admin.runs.GetRun(gctx, connect.NewRequest(req)); err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("get run: %w", err)
				}
				if counting.Load() {
					calls.Add(1)
				}
			}
			return nil
		})
	}
	var start time.Time
	select {
	case <-time.After(cheapReadWarmup):
		cpu := e.startCPU()
		counting.Store(true)
		start = time.Now()
		select {
		case <-time.After(cheapReadWindow):
		case <-gctx.Done():
		}
		counting.Store(false)
		cpu.note("cheap read", max(int(calls.Load()), 1), "calls")
	case <-gctx.Done():
	}
	elapsed := time.Since(start)
	stop()
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := int(calls.Load())
	e.note("cheap read: RunService/GetRun from %d concurrent callers, %d calls in %.2fs, built-in authorization policy",
		cheapReadCallers, n, elapsed.Seconds())
	e.figure("cheap_read_calls_per_s", perSecond(n, elapsed))
	return nil
}
