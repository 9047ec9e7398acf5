package supervisor

import (
	"context"
	"time"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// heartbeatLoop sends a heartbeat every heartbeat interval, and at once when
// asked (a new session, the start of a drain).
func (s *Supervisor) heartbeatLoop(ctx context.Context) {
	for {
		s.mu.Lock()
		interval := s.heartbeatInterval
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.hbNow:
		case <-s.clk.After(interval):
		}
		s.heartbeat(ctx, interval)
	}
}

// heartbeat lists the runs held, renews the local lease of those the control
// plane still grants, stops those it lists as lost and cancels those it
// lists as cancelled.
func (s *Supervisor) heartbeat(ctx context.Context, timeout time.Duration) {
	s.mu.Lock()
	var (
		live []*ferryv1.RunLease
		held []*run
	)
	for _, r := range s.runs {
		if r.claimed && !r.abandoned {
			live = append(live, r.lease)
			held = append(held, r)
		}
	}
	leaseDuration := s.leaseDuration
	s.mu.Unlock()

	// The control plane renews the lease when it receives the heartbeat,
	// which is after now: a deadline counted from now is never late.
	sent := s.clk.Now()
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	res, err := s.conn.Heartbeat(callCtx, live)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "heartbeat failed", "runs", len(live), "error", err)
		}
		return
	}
	if res.GetResubscribe() {
		// The control plane no longer knows this session and renewed
		// nothing; the new session's first heartbeat will.
		s.log.DebugContext(ctx, "heartbeat refused for the session; leases not renewed", "runs", len(live))
		return
	}
	s.log.DebugContext(ctx, "heartbeat", "runs", len(live))

	lost := map[runKey]bool{}
	for _, l := range res.GetLost() {
		lost[runKey{runID: l.GetRunId(), attempt: l.GetAttempt()}] = true
	}
	for _, r := range held {
		if lost[r.key] {
			r.log.WarnContext(ctx, "run lost: control plane no longer leases it to this agent; stopping it")
			s.abandon(r, errLeaseLost)
			continue
		}
		s.mu.Lock()
		// A lease that expired before this heartbeat left may already be
		// someone else's: renewing it would undo the fence.
		if sent.Before(r.deadline) {
			r.deadline = sent.Add(leaseDuration)
		}
		s.mu.Unlock()
	}
	for _, c := range res.GetCancel() {
		s.cancelRequested(ctx, c)
	}
}

// fenceLoop stops every run whose lease has passed its local deadline
// without renewal: the control plane may have given it to another agent.
func (s *Supervisor) fenceLoop(ctx context.Context) {
	for {
		s.mu.Lock()
		tick := min(max(s.leaseDuration/20, minFenceTick), maxFenceTick)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.clk.After(tick):
		}

		now := s.clk.Now()
		var expired []*run
		s.mu.Lock()
		for _, r := range s.runs {
			if r.claimed && !r.abandoned && !now.Before(r.deadline) {
				expired = append(expired, r)
			}
		}
		s.mu.Unlock()
		for _, r := range expired {
			r.log.WarnContext(ctx, "lease expired without renewal; stopping run")
			s.abandon(r, errLeaseExpired)
		}
	}
}
