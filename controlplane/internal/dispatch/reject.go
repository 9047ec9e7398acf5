package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
)

// RejectRun ends an offered run r as FAILED (Rejected) with reason as its
// message, at time now, without the agent ever seeing it. The state
// machine lets only a claimed (PENDING) attempt fail, so the offer is
// claimed on the agent's behalf under the offer's token and failed in the
// same call; both land in one transaction, and the run never shows as
// PENDING. A Rejected failure is never retried automatically. The run must
// still hold the offer r describes: if the offer lapsed or moved on, the
// claim is refused and so is the rejection.
func RejectRun(ctx context.Context, st *store.Store, applier *transition.Applier, now time.Time, r db.Run, reason string) error {
	if !r.AgentID.Valid || r.LeaseToken == 0 {
		return fmt.Errorf("reject run %s: the run holds no offer", r.ID)
	}
	reqs := []transition.Request{
		{RunID: r.ID, Event: run.Claim{AgentID: r.AgentID.UUID.String(), Token: r.LeaseToken}},
		{RunID: r.ID, Event: run.Failed{Token: r.LeaseToken, Message: reason, Kind: run.FailureRejected}},
	}
	return st.Tx(ctx, func(q db.Querier) error {
		outs, err := applier.Apply(ctx, q, now, reqs, nil)
		if err != nil {
			return fmt.Errorf("reject run %s: %w", r.ID, err)
		}
		for _, o := range outs {
			if o.Err != nil {
				return fmt.Errorf("reject run %s: %s: %w", r.ID, o.Request.Event.EventKind(), o.Err)
			}
		}
		return nil
	})
}
