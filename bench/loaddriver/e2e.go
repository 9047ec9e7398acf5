package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/bench/internal/simagent"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// e2ePhase creates runs in batches while several agents claim them in
// batches and report each STARTED and COMPLETED, and measures runs per
// second from the first CreateRuns call to the last accepted COMPLETED.
func e2ePhase(ctx context.Context, e *env) error {
	const pool = "bench-e2e"
	total := e.cfg.e2eRuns
	pctx, cancel := context.WithTimeoutCause(ctx, e.cfg.e2eTimeout,
		fmt.Errorf("throughput phase took longer than %s", e.cfg.e2eTimeout))
	defer cancel()

	hc, err := e.agentClient(pool)
	if err != nil {
		return err
	}
	defer closeIdle(hc)
	client := ferryv1connect.NewAgentServiceClient(hc, e.srv.URL())
	var (
		completed atomic.Int64
		refused   atomic.Int64
		allDone   = make(chan struct{})
		doneOnce  sync.Once
		errOnce   sync.Once
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	agents := make([]*simagent.Agent, 0, e.cfg.e2eAgents)
	defer func() {
		cancel()
		wg.Wait()
		for _, ag := range agents {
			ag.Close()
		}
	}()
	for i := range e.cfg.e2eAgents {
		ag, err := simagent.Subscribe(ctx, client, fmt.Sprintf("e2e-%d", i+1), int32(e.cfg.e2eCapacity))
		if err != nil {
			return err
		}
		agents = append(agents, ag)
		w := &e2eWorker{ag: ag, claimed: make(chan []*ferryv1.RunLease, 64)}
		onCompleted := func(n int) {
			if completed.Add(int64(n)) >= int64(total) {
				doneOnce.Do(func() { close(allDone) })
			}
		}
		wg.Add(3)
		go func() { defer wg.Done(); ag.Heartbeats(pctx, w.live.List) }()
		go func() {
			defer wg.Done()
			if err := w.claimLoop(pctx, &refused); err != nil && pctx.Err() == nil {
				fail(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := w.reportLoop(pctx, onCompleted); err != nil && pctx.Err() == nil {
				fail(err)
			}
		}()
	}

	cpu := e.startCPU()
	start := time.Now()
	for created := 0; created < total; {
		n := min(e.cfg.e2eBatch, total-created)
		if _, err := createRuns(pctx, e.admin, pool, n); err != nil {
			if pctx.Err() == nil {
				fail(err)
			}
			break
		}
		created += n
	}
	createdAt := time.Since(start)
	select {
	case <-allDone:
	case <-pctx.Done():
		if firstErr != nil {
			return firstErr
		}
		return fmt.Errorf("%d of %d runs completed: %w", completed.Load(), total, context.Cause(pctx))
	}
	elapsed := time.Since(start)
	cpu.note("e2e throughput", total, "runs")

	if err := checkNoneLeft(ctx, e, pool); err != nil {
		return err
	}
	e.note("e2e throughput: %d no-op runs, %d agents of capacity %d, CreateRuns batches of %d (all created after %.2fs), completed after %.2fs; %d claims refused",
		total, e.cfg.e2eAgents, e.cfg.e2eCapacity, e.cfg.e2eBatch, createdAt.Seconds(), elapsed.Seconds(), refused.Load())
	e.figure("e2e_throughput_runs_per_s", perSecond(total, elapsed))
	return nil
}

// checkNoneLeft fails when a run of deployment is not finished.
func checkNoneLeft(ctx context.Context, e *env, deployment string) error {
	resp, err := e.admin.runs.ListRuns(ctx, connect.NewRequest(&ferryv1.ListRunsRequest{
		Deployment: deployment, PageSize: 1,
		States: []ferryv1.RunState{
			ferryv1.RunState_RUN_STATE_SCHEDULED, ferryv1.RunState_RUN_STATE_PENDING, ferryv1.RunState_RUN_STATE_RUNNING,
		},
	}))
	if err != nil {
		return fmt.Errorf("list unfinished runs: %w", err)
	}
	if len(resp.Msg.GetRuns()) > 0 {
		return fmt.Errorf("run %s of %s is still %s", resp.Msg.GetRuns()[0].GetId(), deployment, resp.Msg.GetRuns()[0].GetState())
	}
	return nil
}

// e2eWorker is one agent's pipeline: claimLoop batches the orders that
// arrived and claims them; reportLoop batches the claimed runs and reports
// them STARTED and COMPLETED.
type e2eWorker struct {
	ag      *simagent.Agent
	live    simagent.LiveSet
	claimed chan []*ferryv1.RunLease
}

func (w *e2eWorker) claimLoop(ctx context.Context, refused *atomic.Int64) error {
	defer close(w.claimed)
	for {
		batch, err := drain(ctx, w.ag.Orders(), simagent.MaxClaims)
		if err != nil {
			return err
		}
		orders := make([]*ferryv1.WorkOrder, len(batch))
		for i, o := range batch {
			orders[i] = o.WorkOrder
		}
		leases, n, err := w.ag.Claim(ctx, orders)
		if err != nil {
			return err
		}
		refused.Add(int64(n))
		w.live.Add(leases)
		select {
		case w.claimed <- leases:
		case <-ctx.Done():
			return nil
		}
	}
}

func (w *e2eWorker) reportLoop(ctx context.Context, onCompleted func(int)) error {
	for {
		leases, err := drainBatches(ctx, w.claimed, simagent.MaxReports/2)
		if err != nil {
			return err
		}
		reports := simagent.Reports(leases, ferryv1.ReportKind_REPORT_KIND_STARTED, ferryv1.ReportKind_REPORT_KIND_COMPLETED)
		results, err := w.ag.Report(ctx, reports)
		if err != nil {
			return err
		}
		done := 0
		for i, r := range results {
			if !r.GetAccepted() {
				return fmt.Errorf("report %s for run %s refused: %s", reports[i].GetKind(), r.GetRunId(), r.GetReason())
			}
			if reports[i].GetKind() == ferryv1.ReportKind_REPORT_KIND_COMPLETED {
				done++
			}
		}
		w.live.Remove(leases)
		onCompleted(done)
	}
}

// drain waits for one item of ch, then takes what else is ready, up to max.
func drain[T any](ctx context.Context, ch <-chan T, max int) ([]T, error) {
	var out []T
	select {
	case v, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("channel closed")
		}
		out = append(out, v)
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	for len(out) < max {
		select {
		case v, ok := <-ch:
			if !ok {
				return out, nil
			}
			out = append(out, v)
		default:
			return out, nil
		}
	}
	return out, nil
}

// drainBatches waits for one batch of ch, then adds the batches that are
// ready while it holds fewer than max items.
func drainBatches[T any](ctx context.Context, ch <-chan []T, max int) ([]T, error) {
	var out []T
	select {
	case b, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("channel closed")
		}
		out = append(out, b...)
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	for len(out) < max {
		select {
		case b, ok := <-ch:
			if !ok {
				return out, nil
			}
			out = append(out, b...)
		default:
			return out, nil
		}
	}
	return out, nil
}
