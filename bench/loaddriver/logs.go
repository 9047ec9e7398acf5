package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/bench/internal/simagent"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// linesPerBatch is how many lines one SendLogs call carries.
const linesPerBatch = 1000

// logsPhase starts several runs on one agent and sends their logs in
// parallel, one SendLogs call of 1,000 lines at a time per run, and
// measures stored lines per second.
func logsPhase(ctx context.Context, e *env) error {
	const pool = "bench-logs"
	runs := e.cfg.logRuns
	perRun := e.cfg.logLines / runs / linesPerBatch
	if perRun < 1 {
		return fmt.Errorf("-log-lines %d is less than %d lines for each of %d runs", e.cfg.logLines, linesPerBatch, runs)
	}
	hc, err := e.agentClient(pool)
	if err != nil {
		return err
	}
	defer closeIdle(hc)
	ag, err := simagent.Subscribe(ctx, ferryv1connect.NewAgentServiceClient(hc, e.srv.URL()), "logs-1", int32(runs))
	if err != nil {
		return err
	}
	defer ag.Close()
	var live simagent.LiveSet
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go ag.Heartbeats(hbCtx, live.List)

	leases, err := startRuns(ctx, e, ag, &live, pool, runs)
	if err != nil {
		return err
	}
	cpu := e.startCPU()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for i, l := range leases {
		g.Go(func() error { return sendLogs(gctx, ag, l, i, perRun) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	lines := runs * perRun * linesPerBatch
	cpu.note("log ingestion", lines, "lines")

	results, err := ag.Report(ctx, simagent.Reports(leases, ferryv1.ReportKind_REPORT_KIND_COMPLETED))
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.GetAccepted() {
			return fmt.Errorf("report for run %s refused: %s", r.GetRunId(), r.GetReason())
		}
	}
	live.Remove(leases)
	e.note("log ingestion: %d lines of about %d bytes, %d runs in parallel, %d lines per SendLogs call, %.2fs",
		lines, len(logText(0, 0)), runs, linesPerBatch, elapsed.Seconds())
	e.figure("log_ingest_lines_per_s", perSecond(lines, elapsed))
	return nil
}

// startRuns creates n runs, claims their orders and reports them STARTED.
func startRuns(
	ctx context.Context,
	e *env,
	ag *simagent.Agent,
	live *simagent.LiveSet,
	pool string,
	n int,
) ([]*ferryv1.RunLease, error) {
	ids, err := createRuns(ctx, e.admin, pool, n)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, n)
	for _, id := range ids {
		want[id] = true
	}
	var orders []*ferryv1.WorkOrder
	for len(orders) < n {
		o, err := nextOrder(ctx, ag)
		if err != nil {
			return nil, err
		}
		if !want[o.GetRunId()] {
			return nil, fmt.Errorf("unexpected work order for run %s", o.GetRunId())
		}
		orders = append(orders, o.WorkOrder)
	}
	leases, refused, err := ag.Claim(ctx, orders)
	if err != nil {
		return nil, err
	}
	if refused > 0 {
		return nil, fmt.Errorf("%d of %d claims refused", refused, n)
	}
	live.Add(leases)
	results, err := ag.Report(ctx, simagent.Reports(leases, ferryv1.ReportKind_REPORT_KIND_STARTED))
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if !r.GetAccepted() {
			return nil, fmt.Errorf("report for run %s refused: %s", r.GetRunId(), r.GetReason())
		}
	}
	return leases, nil
}

// nextOrder waits for the agent's next work order.
func nextOrder(ctx context.Context, ag *simagent.Agent) (simagent.Order, error) {
	timer := time.NewTimer(orderWait)
	defer timer.Stop()
	select {
	case o, ok := <-ag.Orders():
		if !ok {
			return simagent.Order{}, fmt.Errorf("stream ended: %w", ag.Close())
		}
		return o, nil
	case <-timer.C:
		return simagent.Order{}, fmt.Errorf("no work order within %s", orderWait)
	case <-ctx.Done():
		return simagent.Order{}, context.Cause(ctx)
	}
}

// sendLogs sends batches of lines for one run. The batch is built once;
// only the sequence numbers change between calls, after the previous call
// has been encoded and answered.
func sendLogs(ctx context.Context, ag *simagent.Agent, lease *ferryv1.RunLease, worker, batches int) error {
	now := timestamppb.Now()
	batch := &ferryv1.LogBatch{Lease: lease, Lines: make([]*ferryv1.AgentLogLine, linesPerBatch)}
	for j := range batch.Lines {
		batch.Lines[j] = &ferryv1.AgentLogLine{
			Stream: ferryv1.LogStream_LOG_STREAM_STDOUT, Text: logText(worker, j), Time: now,
		}
	}
	for k := range batches {
		for j, l := range batch.Lines {
			l.Seq = int64(k*linesPerBatch + j + 1)
		}
		if err := ag.SendLogs(ctx, []*ferryv1.LogBatch{batch}); err != nil {
			return err
		}
	}
	return nil
}

// logText is a line shaped like an application's log output.
func logText(worker, line int) string {
	return fmt.Sprintf("2025-03-30T01:30:00.123Z INFO worker=%02d step=transform processed record %06d in 12ms status=ok", worker, line)
}
