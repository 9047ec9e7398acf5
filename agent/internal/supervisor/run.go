package supervisor

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/mask"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// execute launches a claimed run, reports it and waits for it. ctx ends
// when the run is abandoned.
func (s *Supervisor) execute(ctx context.Context, r *run) {
	defer s.forget(r)

	s.mu.Lock()
	expired := !s.clk.Now().Before(r.deadline)
	abandoned, cancelReason, stopping := r.abandoned, r.cancelReason, s.stopping
	launcher, poolType := s.launcher, s.poolType
	launching := !expired && !abandoned && cancelReason == "" && !stopping && r.refusal == ""
	if launching {
		r.logs = s.logs.Open(r.lease)
	}
	s.mu.Unlock()
	switch {
	case abandoned:
		return
	case r.refusal != "":
		// Claimed only to record the refusal: the run ends FAILED (Rejected).
		s.report(ctx, r, &ferryv1.StateReport{Kind: ferryv1.ReportKind_REPORT_KIND_REJECTED, Message: r.refusal})
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

	if rep := s.admit(ctx, r); rep != nil {
		s.finish(ctx, r, rep)
		return
	}
	job := s.jobOf(r)
	if poolType == poolTypeECS {
		// ECS fetches the secrets itself with the task's execution role:
		// resolved here, their values would travel in the RunTask call.
		job.SecretRefs = maps.Clone(r.job.GetSecrets())
	} else {
		env, rep := s.resolveSecrets(ctx, r)
		if rep != nil {
			s.finish(ctx, r, rep)
			return
		}
		job.Env = env
	}
	var sink launch.LogSink = r.logs
	if r.masker != nil {
		sink = r.masker.Sink(r.logs)
	}
	h, err := launcher.Start(ctx, job, sink)
	if err != nil {
		kind := ferryv1.ReportKind_REPORT_KIND_CRASHED
		if errors.Is(err, launch.ErrInvalidJob) {
			kind = ferryv1.ReportKind_REPORT_KIND_FAILED
		}
		msg := "launch failed: " + err.Error()
		r.log.WarnContext(ctx, "run launch failed", "error", r.masker.MaskError(err))
		r.logs.Line(launch.LogLine{Stream: launch.StreamSystem, Text: r.masker.MaskString(msg), Time: s.clk.Now()})
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
	s.supervise(ctx, r, h)
}

// supervise reports a launched run started, waits for it and reports how it
// ended.
func (s *Supervisor) supervise(ctx context.Context, r *run, h launch.Handle) {
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
	stopGrace := s.cfg.StopGrace
	if g := spec.GetContainer().GetStopGrace(); g != nil && g.AsDuration() > 0 {
		stopGrace = g.AsDuration()
	}
	return launch.Job{
		RunID:          r.key.runID,
		Attempt:        r.key.attempt,
		LeaseToken:     r.lease.GetLeaseToken(),
		DeploymentName: spec.GetDeployment(),
		Command:        spec.GetCommand(),
		Env:            spec.GetEnv(),
		WorkingDir:     dir,
		ParametersJSON: spec.GetParameters(),
		Timeout:        spec.GetTimeout().AsDuration(),
		StopGrace:      stopGrace,
		Image:          spec.GetImage(),
		Container:      containerOf(spec.GetContainer()),
		Variables:      spec.GetJobVariables(),
	}
}

// containerOf converts the proto container settings to the launcher's.
func containerOf(c *ferryv1.ContainerSpec) launch.Container {
	out := launch.Container{
		User:          c.GetUser(),
		MilliCPUs:     c.GetMilliCpus(),
		MemoryBytes:   c.GetMemoryBytes(),
		Network:       c.GetNetwork(),
		Privileged:    c.GetPrivileged(),
		Labels:        c.GetLabels(),
		KeepContainer: c.GetKeepContainer(),
	}
	switch c.GetPullPolicy() {
	case ferryv1.PullPolicy_PULL_POLICY_ALWAYS:
		out.PullPolicy = launch.PullAlways
	case ferryv1.PullPolicy_PULL_POLICY_NEVER:
		out.PullPolicy = launch.PullNever
	default:
		out.PullPolicy = launch.PullIfNotPresent
	}
	for _, m := range c.GetMounts() {
		out.Mounts = append(out.Mounts, launch.Mount{Source: m.GetSource(), Target: m.GetTarget(), ReadOnly: m.GetReadOnly()})
	}
	return out
}

// admit evaluates the agent's policy on the run's job. It returns the
// rejection to report, or nil when the job may run.
func (s *Supervisor) admit(ctx context.Context, r *run) *ferryv1.StateReport {
	if s.cfg.Policy == nil {
		return nil
	}
	denials, err := s.cfg.Policy.Evaluate(ctx, r.key.runID, r.key.attempt, r.job)
	if err != nil {
		denials = append(denials, "agent policy could not be evaluated: "+err.Error())
	}
	if len(denials) == 0 {
		return nil
	}
	msg := "denied by agent policy: " + strings.Join(denials, "; ")
	r.log.WarnContext(ctx, "run denied by agent policy", "denials", denials)
	r.logs.Line(launch.LogLine{Stream: launch.StreamSystem, Text: msg, Time: s.clk.Now()})
	return &ferryv1.StateReport{Kind: ferryv1.ReportKind_REPORT_KIND_REJECTED, Message: msg}
}

// resolveSecrets resolves the job's secret references and returns the
// environment of the run. It registers the values for masking. On failure
// it returns the report that fails the run; nothing is launched.
func (s *Supervisor) resolveSecrets(ctx context.Context, r *run) (map[string]string, *ferryv1.StateReport) {
	env := maps.Clone(r.job.GetEnv())
	refs := r.job.GetSecrets()
	if len(refs) == 0 {
		return env, nil
	}
	fail := func(msg string) (map[string]string, *ferryv1.StateReport) {
		r.log.WarnContext(ctx, "run not launched", "error", msg)
		r.logs.Line(launch.LogLine{Stream: launch.StreamSystem, Text: msg, Time: s.clk.Now()})
		return nil, &ferryv1.StateReport{Kind: ferryv1.ReportKind_REPORT_KIND_FAILED, Message: msg}
	}
	if s.cfg.Secrets == nil {
		return fail("the job refers to secrets, but this agent resolves none")
	}
	values, err := s.cfg.Secrets.Resolve(ctx, refs)
	if err != nil {
		// Resolver errors name variables and references, never values.
		return fail("could not resolve the job's secrets: " + err.Error())
	}
	minLen := s.cfg.MinMaskLen
	if minLen <= 0 {
		minLen = mask.DefaultMinLen
	}
	masker, warnings := mask.New(values, minLen)
	s.mu.Lock()
	r.masker = masker
	s.mu.Unlock()
	s.cfg.Masks.Add(r.key.String(), values)
	for _, w := range warnings {
		r.log.WarnContext(ctx, "secret not masked", "warning", w)
		r.logs.Line(launch.LogLine{Stream: launch.StreamSystem, Text: "warning: " + w, Time: s.clk.Now()})
	}
	if env == nil {
		env = make(map[string]string, len(values))
	}
	for name, v := range values {
		env[name] = v
	}
	return env, nil
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
	s.mu.Lock()
	masker := r.masker
	s.mu.Unlock()
	rep.Message = truncate(masker.MaskString(s.cfg.Masks.MaskString(rep.GetMessage())), maxMessageBytes)
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
