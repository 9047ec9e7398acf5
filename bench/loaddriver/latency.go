package main

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/bench/internal/simagent"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// orderWait bounds the wait for one work order; the dispatcher's own tick
// is a second, so a missed wake-up still shows as a slow sample, not an
// error.
const orderWait = 30 * time.Second

// latencyPhase creates runs one at a time for one idle agent and times each
// from the return of CreateRun to the arrival of its work order on the
// agent's stream. Between samples the agent claims the run and reports it
// STARTED and COMPLETED, so it is idle again when the next run is created.
func latencyPhase(ctx context.Context, e *env) error {
	const pool = "bench-latency"
	hc, err := e.agentClient(pool)
	if err != nil {
		return err
	}
	defer closeIdle(hc)
	ag, err := simagent.Subscribe(ctx, ferryv1connect.NewAgentServiceClient(hc, e.srv.URL()), "latency-1", 4)
	if err != nil {
		return err
	}
	defer ag.Close()
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	var live simagent.LiveSet
	go ag.Heartbeats(hbCtx, live.List)

	samples := make([]time.Duration, 0, e.cfg.latencyRuns)
	fromSend := make([]time.Duration, 0, e.cfg.latencyRuns)
	early := 0
	for i := range e.cfg.latencyWarmup + e.cfg.latencyRuns {
		sent := time.Now()
		resp, err := e.admin.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{
			Run: &ferryv1.RunTemplate{Deployment: pool},
		}))
		if err != nil {
			return fmt.Errorf("create run: %w", err)
		}
		returned := time.Now()
		order, err := waitOrder(ctx, ag, resp.Msg.GetRun().GetId())
		if err != nil {
			return err
		}
		if i >= e.cfg.latencyWarmup {
			d := order.Received.Sub(returned)
			if d < 0 {
				// The order beat the CreateRun response to the driver.
				early++
				d = 0
			}
			samples = append(samples, d)
			fromSend = append(fromSend, order.Received.Sub(sent))
		}
		if err := finish(ctx, ag, &live, []*ferryv1.WorkOrder{order.WorkOrder}); err != nil {
			return err
		}
	}
	e.note("dispatch latency: %d sequential runs after %d warm-up runs, one idle agent; %d orders arrived before CreateRun returned (counted as 0 ms)",
		len(samples), e.cfg.latencyWarmup, early)
	e.note("dispatch latency from CreateRun sent (creation included): p50 %.2f ms, p99 %.2f ms",
		millis(percentile(fromSend, 50)), millis(percentile(fromSend, 99)))
	e.figure("dispatch_latency_p50_ms", millis(percentile(samples, 50)))
	e.figure("dispatch_latency_p99_ms", millis(percentile(samples, 99)))
	return nil
}

// waitOrder waits for the work order of run id.
func waitOrder(ctx context.Context, ag *simagent.Agent, id string) (simagent.Order, error) {
	timer := time.NewTimer(orderWait)
	defer timer.Stop()
	select {
	case o, ok := <-ag.Orders():
		if !ok {
			return simagent.Order{}, fmt.Errorf("stream ended while waiting for run %s: %w", id, ag.Close())
		}
		if o.GetRunId() != id {
			return simagent.Order{}, fmt.Errorf("waiting for run %s, got an order for run %s", id, o.GetRunId())
		}
		return o, nil
	case <-timer.C:
		return simagent.Order{}, fmt.Errorf("no work order for run %s within %s", id, orderWait)
	case <-ctx.Done():
		return simagent.Order{}, context.Cause(ctx)
	}
}

// finish claims orders and reports each run STARTED and COMPLETED; every
// claim and report must be accepted.
func finish(ctx context.Context, ag *simagent.Agent, live *simagent.LiveSet, orders []*ferryv1.WorkOrder) error {
	leases, refused, err := ag.Claim(ctx, orders)
	if err != nil {
		return err
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d claims refused", refused, len(orders))
	}
	live.Add(leases)
	defer live.Remove(leases)
	results, err := ag.Report(ctx, simagent.Reports(leases,
		ferryv1.ReportKind_REPORT_KIND_STARTED, ferryv1.ReportKind_REPORT_KIND_COMPLETED))
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.GetAccepted() {
			return fmt.Errorf("report for run %s refused: %s", r.GetRunId(), r.GetReason())
		}
	}
	return nil
}
