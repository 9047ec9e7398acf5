package supervisor

import (
	"context"
	"fmt"

	"github.com/ferryhq/ferry/agent/internal/launch"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// remover is implemented by launchers that can remove the infrastructure
// of a run this agent no longer holds.
type remover interface {
	Remove(ctx context.Context, infrastructureID string) error
}

// adopt takes back the runs an earlier life of this agent left running. The
// control plane says which of them it still leases to this agent (and how
// far their stored logs go): those are re-adopted and their logs resume
// where the stored lines end; the others are removed.
//
// Known limitation: a re-adopted run's logs are not masked, because the
// agent keeps no record of the secret values it resolved for it before the
// restart.
func (s *Supervisor) adopt(ctx context.Context, a launch.Adopter) {
	survivors, err := a.Survivors(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "could not list runs left by an earlier agent", "error", err)
		return
	}
	if len(survivors) == 0 {
		return
	}
	leases := make([]*ferryv1.RunLease, len(survivors))
	for i, sv := range survivors {
		leases[i] = &ferryv1.RunLease{RunId: sv.RunID, Attempt: sv.Attempt, LeaseToken: sv.LeaseToken}
	}
	cursors, err := s.conn.GetLogCursors(ctx, leases)
	if err != nil {
		s.log.WarnContext(ctx, "could not reconcile runs left by an earlier agent", "error", err)
		return
	}
	held := make(map[runKey]*ferryv1.LogCursor, len(cursors))
	for _, c := range cursors {
		held[runKey{runID: c.GetRunId(), attempt: c.GetAttempt()}] = c
	}
	for i, sv := range survivors {
		k := runKey{runID: sv.RunID, attempt: sv.Attempt}
		c, ok := held[k]
		if !ok {
			s.log.InfoContext(ctx, "removing a run the control plane no longer leases to this agent",
				"run_id", sv.RunID, "attempt", sv.Attempt, "infrastructure_id", sv.InfrastructureID)
			if rm, ok := a.(remover); ok {
				if err := rm.Remove(ctx, sv.InfrastructureID); err != nil {
					s.log.WarnContext(ctx, "could not remove a stale run", "run_id", sv.RunID, "error", err)
				}
			}
			continue
		}
		sv.SkipLines = c.GetOutputLines()
		runCtx, cancel := context.WithCancelCause(ctx)
		s.mu.Lock()
		if s.runs[k] != nil {
			s.mu.Unlock()
			cancel(nil)
			continue
		}
		r := &run{
			key:      k,
			lease:    leases[i],
			log:      s.log.With("run_id", k.runID, "attempt", k.attempt),
			cancel:   cancel,
			claimed:  true,
			deadline: s.clk.Now().Add(s.leaseDuration),
			survivor: &sv,
		}
		r.logs = s.logs.Resume(r.lease, c.GetLastSeq())
		s.runs[k] = r
		s.mu.Unlock()
		// Renew the lease at once rather than at the next tick.
		s.heartbeatSoon()
		s.wg.Go(func() { s.executeAdopted(runCtx, r, a) })
	}
}

// executeAdopted attaches to a re-adopted run and supervises it to the end.
func (s *Supervisor) executeAdopted(ctx context.Context, r *run, a launch.Adopter) {
	defer s.forget(r)
	h, err := a.Adopt(ctx, *r.survivor, r.logs)
	if err != nil {
		msg := fmt.Sprintf("could not re-adopt the run after an agent restart: %v", err)
		r.log.WarnContext(ctx, "re-adoption failed", "error", err)
		s.finish(ctx, r, &ferryv1.StateReport{Kind: ferryv1.ReportKind_REPORT_KIND_CRASHED, Message: msg})
		return
	}
	r.log.InfoContext(ctx, "run re-adopted", "infrastructure_id", h.InfrastructureID(), "skipped_lines", r.survivor.SkipLines)
	s.started.Add(1)
	s.mu.Lock()
	r.handle = h
	s.mu.Unlock()
	s.supervise(ctx, r, h)
}
