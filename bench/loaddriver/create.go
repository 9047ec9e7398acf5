package main

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// createPhase creates runs with CreateRuns from several concurrent callers,
// in batches, for a pool no agent serves, and measures runs per second.
func createPhase(ctx context.Context, e *env) error {
	const pool = "bench-create"
	batches := (e.cfg.createRuns + e.cfg.createBatch - 1) / e.cfg.createBatch
	// One batch first, so the phase does not time the first use of the
	// deployment.
	if _, err := createRuns(ctx, e.admin, pool, e.cfg.createBatch); err != nil {
		return err
	}
	var next atomic.Int64
	cpu := e.startCPU()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range e.cfg.createWorkers {
		g.Go(func() error {
			for int(next.Add(1)) <= batches {
				if _, err := createRuns(gctx, e.admin, pool, e.cfg.createBatch); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	total := batches * e.cfg.createBatch
	cpu.note("bulk creation", total, "runs")
	e.note("bulk creation: %d runs in CreateRuns batches of %d from %d concurrent callers, %.2fs",
		total, e.cfg.createBatch, e.cfg.createWorkers, elapsed.Seconds())
	e.figure("bulk_create_runs_per_s", perSecond(total, elapsed))
	return nil
}
