// Package lease runs the lease reaper: it finds offers and leases past their
// expiry and applies LeaseExpired to each, conditional on the lease token it
// read, so a run that finished meanwhile is never overwritten.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
)

// Reaper expires leases. Several replicas may run one each.
type Reaper struct {
	Store   *store.Store
	Applier *transition.Applier
	Clock   clock.Clock
	Log     *slog.Logger
	// Interval is the time between sweeps. Default 1s.
	Interval time.Duration
	// Grace delays the first sweep after start by this long, so agents can
	// reconnect and renew their leases after a control-plane restart.
	Grace time.Duration
	// Batch caps the runs handled per transaction. Default 500.
	Batch int32
}

// Run sweeps until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	select {
	case <-ctx.Done():
		return
	case <-r.Clock.After(r.Grace):
	}
	for {
		if _, err := r.Step(ctx); err != nil && ctx.Err() == nil {
			r.Log.WarnContext(ctx, "lease sweep failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// Step runs one sweep and returns how many runs changed.
func (r *Reaper) Step(ctx context.Context) (int, error) {
	batch := r.Batch
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for {
		now := r.Clock.Now()
		expired, err := r.Store.Q.RunExpiredLeases(ctx, db.RunExpiredLeasesParams{Now: now, MaxRuns: batch})
		if err != nil {
			return total, fmt.Errorf("find expired leases: %w", err)
		}
		if len(expired) == 0 {
			return total, nil
		}
		reqs := make([]transition.Request, len(expired))
		for i, e := range expired {
			reqs[i] = transition.Request{RunID: e.ID, Event: run.LeaseExpired{Token: e.LeaseToken}}
		}
		var outcomes []transition.Outcome
		err = r.Store.Tx(ctx, func(q db.Querier) error {
			var err error
			outcomes, err = r.Applier.Apply(ctx, q, now, reqs, nil)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("expire leases: %w", err)
		}
		for _, o := range outcomes {
			switch {
			case o.Err == nil:
				total++
				if len(o.Result.Transitions) > 0 {
					r.Log.InfoContext(ctx, "lease expired", slog.String("run_id", o.Request.RunID.String()),
						slog.String("state", o.Row.State), slog.String("state_name", o.Row.StateName))
				}
			case errors.Is(o.Err, run.ErrStaleToken), errors.Is(o.Err, transition.ErrNoRun):
				// The run moved on after we read it: nothing to do.
			default:
				r.Log.WarnContext(ctx, "could not expire lease", slog.String("run_id", o.Request.RunID.String()), slog.Any("error", o.Err))
			}
		}
		if int32(len(expired)) < batch {
			return total, nil
		}
	}
}
