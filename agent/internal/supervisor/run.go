package supervisor

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/launch"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// execute launches a claimed run, reports it and waits for it. ctx ends
// when the run is abandoned.
func (s *Supervisor) execute(ctx context.Context, r *run) {
	defer s.forget(r)

	s.mu.Lock()
	expired := !s.clk.Now().Before(r.deadline)
	abandoned, cancelReason, stopping := r.abandoned, r.cancelReason, s.stopping
	launcher := s.launcher
	launching := !expired && !abandoned && cancelReason == "" && !stopping
	if launching {
		r.logs = s.logs.Open(r.lease)
	}
	s.mu.Unlock()
	switch {
	case abandoned:
		return
	case expired:
		r.log.WarnContext(ctx, "run not launched: its lease expired before launch")
		return
	case stopping:
		// Unreported, the claim lapses and the run goes back to the queue.
		r.log.InfoContext(ctx, "run not launched: agent shutting down")
		return
	case cancelReason != "":
		s.report(ctx, r, &ferryv1.StateReport{
			Kind:    ferryv1.ReportKind_REPORT_KIND_CANCELLED,
			Message: "cancelled before launch: " + cancelReason,
		})
		return
	}

	h, err := launcher.Start(ctx, s.jobOf(r), r.logs)
	if err != nil {
		kind := ferryv1.ReportKind_REPORT_KIND_CRASHED
		if errors.Is(err, launch.ErrInvalidJob) {
			kind = ferryv1.ReportKind_REPORT_KIND_FAILED
		}
		msg := "launch failed: " + err.Error()
		r.log.WarnContext(ctx, "run launch failed", "error", err)
		r.logs.Line(launch.LogLine{Stream: launch.StreamSystem, Text: msg, Time: s.clk.Now()})
		s.finish(ctx, r, &ferryv1.StateReport{Kind: kind, Message: msg})
		return
	}
	s.started.Add(1)
	s.mu.Lock()
	r.handle = h
	abandoned, cancelReason, shutdown := r.abandoned, r.cancelReason, r.shutdown
	s.mu.Unlock()
	// A stop asked for during the start found no handle to stop.
	switch {
	case abandoned:
		s.stop(h, "run abandoned during launch")
	case cancelReason != "":
		s.stop(h, cancelReason)
	case shutdown:
		s.stop(h, "agent shutting down")
	}
	r.log.InfoContext(ctx, "run started", "infrastructure_id", h.InfrastructureID())
	s.report(ctx, r, &ferryv1.StateReport{
		Kind:             ferryv1.ReportKind_REPORT_KIND_STARTED,
		InfrastructureId: truncate(h.InfrastructureID(), maxInfraIDBytes),
	})

	out, err := h.Wait(ctx)
	if err != nil {
		// Abandoned and told to stop: hold the slot until the run is gone.
		out, _ = h.Wait(context.WithoutCancel(ctx))
		r.log.InfoContext(ctx, "abandoned run stopped", "outcome", out.Kind.String(),
			"reason", context.Cause(ctx).Error())
		return
	}
	s.finish(ctx, r, s.reportOf(r, out))
}

// jobOf builds the launcher's job from the run's spec.
func (s *Supervisor) jobOf(r *run) launch.Job {
	spec := r.job
	dir := spec.GetWorkingDir()
	switch {
	case dir == "":
		dir = s.cfg.WorkDir
	case !filepath.IsAbs(dir) && s.cfg.WorkDir != "":
		dir = filepath.Join(s.cfg.WorkDir, dir)
	}
	return launch.Job{
		RunID:          r.key.runID,
		Attempt:        r.key.attempt,
		DeploymentName: spec.GetDeployment(),
		Command:        spec.GetCommand(),
		Env:            spec.GetEnv(),
		WorkingDir:     dir,
		ParametersJSON: spec.GetParameters(),
		Timeout:        spec.GetTimeout().AsDuration(),
		StopGrace:      s.cfg.StopGrace,
	}
}

// reportOf turns an outcome into the final report.
func (s *Supervisor) reportOf(r *run, out launch.Outcome) *ferryv1.StateReport {
	s.mu.Lock()
	byShutdown := r.shutdown && r.cancelReason == ""
	s.mu.Unlock()

	rep := &ferryv1.StateReport{Message: out.Message}
	if out.ExitCode != launch.ExitCodeUnknown {
		rep.ExitCode = &out.ExitCode
	}
	switch out.Kind {
	case launch.OutcomeSucceeded:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_COMPLETED
	case launch.OutcomeFailed:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_FAILED
	case launch.OutcomeTimedOut:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_TIMED_OUT
	case launch.OutcomeCancelled:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_CANCELLED
		if byShutdown {
			// The run's code did not fail and no one cancelled it: its
			// infrastructure went away, which a retry policy may answer.
			rep.Kind = ferryv1.ReportKind_REPORT_KIND_CRASHED
			rep.Message = "agent shut down before the run finished"
		}
	case launch.OutcomeRejected:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_REJECTED
	default:
		rep.Kind = ferryv1.ReportKind_REPORT_KIND_CRASHED
	}
	return rep
}

// finish waits until every log line of the run is stored, then sends the
// final report.
func (s *Supervisor) finish(ctx context.Context, r *run, rep *ferryv1.StateReport) {
	r.logs.Close()
	select {
	case <-r.logs.Done():
	case <-ctx.Done():
		return
	}
	if s.report(ctx, r, rep) {
		s.finished.Add(1)
		r.log.InfoContext(ctx, "run finished", "outcome", rep.GetKind().String(), "message", rep.GetMessage())
	}
}

// report sends one report of r, retried until acknowledged or until the run
// is abandoned. It reports whether the control plane accepted it, and acts
// on its answer: stop a run whose lease is gone, cancel one whose
// cancellation is pending.
func (s *Supervisor) report(ctx context.Context, r *run, rep *ferryv1.StateReport) bool {
	rep.Lease = r.lease
	rep.Message = truncate(rep.GetMessage(), maxMessageBytes)
	results, err := s.conn.ReportStates(ctx, []*ferryv1.StateReport{rep})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, conn.ErrUnauthorized) {
			r.log.ErrorContext(ctx, "state report refused", "outcome", rep.GetKind().String(), "error", err)
		}
		return false
	}
	var res *ferryv1.ReportResult
	for _, x := range results {
		if x.GetRunId() == r.key.runID {
			res = x
		}
	}
	switch {
	case res == nil:
		r.log.ErrorContext(ctx, "state report unanswered", "outcome", rep.GetKind().String())
		return false
	case res.GetStop() && !res.GetAccepted():
		r.log.WarnContext(ctx, "control plane stopped the run", "reason", res.GetReason())
		s.abandon(r, errLeaseLost)
		return false
	case res.GetStop():
		s.requestCancel(ctx, r, positiveReason(res.GetReason()))
	case !res.GetAccepted():
		r.log.WarnContext(ctx, "state report not accepted", "outcome", rep.GetKind().String(),
			"reason", res.GetReason())
		return false
	}
	return true
}

// cancelRequested handles a cancel request from the stream or a heartbeat.
func (s *Supervisor) cancelRequested(ctx context.Context, c *ferryv1.CancelRequest) {
	s.mu.Lock()
	r := s.runs[runKey{runID: c.GetRunId(), attempt: c.GetAttempt()}]
	s.mu.Unlock()
	if r == nil || r.lease.GetLeaseToken() != c.GetLeaseToken() {
		s.log.DebugContext(ctx, "cancel request for a run not held", "run_id", c.GetRunId(),
			"attempt", c.GetAttempt())
		return
	}
	s.requestCancel(ctx, r, positiveReason(c.GetReason()))
}

func positiveReason(reason string) string {
	if reason == "" {
		return "cancel requested"
	}
	return reason
}

// requestCancel stops r, which then reports CANCELLED; a run not yet
// launched is not launched.
func (s *Supervisor) requestCancel(ctx context.Context, r *run, reason string) {
	s.mu.Lock()
	if r.cancelReason != "" || r.abandoned {
		s.mu.Unlock()
		return
	}
	r.cancelReason = reason
	h := r.handle
	s.mu.Unlock()
	r.log.InfoContext(ctx, "cancelling run", "reason", reason)
	if h != nil {
		s.stop(h, reason)
	}
}

// abandon stops r and forgets its lease: no report or log line of it is sent
// any more, because the control plane may have given it to another agent.
func (s *Supervisor) abandon(r *run, cause error) {
	s.mu.Lock()
	if r.abandoned {
		s.mu.Unlock()
		return
	}
	r.abandoned = true
	h, logs := r.handle, r.logs
	s.mu.Unlock()
	r.cancel(cause)
	if logs != nil {
		logs.Discard()
	}
	if h != nil {
		s.stop(h, cause.Error())
	}
}

func (s *Supervisor) abandonAll(cause error) {
	s.mu.Lock()
	runs := make([]*run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	for _, r := range runs {
		s.abandon(r, cause)
	}
}

// stop begins stopping a launched run without waiting for it.
func (s *Supervisor) stop(h launch.Handle, reason string) {
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopCallTimeout)
		defer cancel()
		if err := h.Cancel(ctx, reason); err != nil {
			s.log.ErrorContext(ctx, "run stop failed", "infrastructure_id", h.InfrastructureID(), "error", err)
		}
	})
}

// drain makes the agent take no new runs.
func (s *Supervisor) drain(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	held := len(s.runs)
	s.mu.Unlock()
	s.conn.SetDraining(true)
	s.heartbeatSoon()
	s.log.InfoContext(ctx, "agent draining", "runs", held, "grace", s.cfg.ShutdownGrace)
}

// stopAll stops every run at the end of the shutdown grace.
func (s *Supervisor) stopAll(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	var handles []launch.Handle
	for _, r := range s.runs {
		r.shutdown = true
		if r.handle != nil && !r.abandoned {
			handles = append(handles, r.handle)
		}
	}
	s.mu.Unlock()
	if len(handles) > 0 {
		s.log.WarnContext(ctx, "shutdown grace over: stopping runs", "runs", len(handles))
	}
	for _, h := range handles {
		s.stop(h, "agent shutting down")
	}
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
