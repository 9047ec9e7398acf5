package limits

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
)

// BenchmarkOfferAndClaim measures the dispatcher's offer and the agent's
// claim of a batch of 100 runs, as the control plane does them (one offer
// transaction, one claim transaction through the state machine), with no
// limit set and with a pool, queue, deployment and named limit all set (but
// roomy, so every run still goes). It reports claimed runs per second.
func BenchmarkOfferAndClaim(b *testing.B) {
	const batch = 100
	for _, bc := range []struct {
		name    string
		limited bool
	}{{"limits=none", false}, {"limits=active", true}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			var poolLimit int32
			queueLimits := []int32{0}
			if bc.limited {
				poolLimit, queueLimits = 100000, []int32{100000}
			}
			f := setup(b, poolLimit, queueLimits, 1)
			tags := []string{}
			if bc.limited {
				f.exec(b, `INSERT INTO deployment_controls (deployment_id, workspace_id, concurrency_limit, limit_names, update_time)
					VALUES ($1, $2, 100000, '{global}', $3)`, f.deployments[0], f.workspace, f.now)
				f.exec(b, `INSERT INTO concurrency_limits (id, workspace_id, name, slots, tags, create_time, update_time)
					VALUES ($1, $2, 'global', 100000, '{}', $3, $3), ($4, $2, 'tagged', 100000, '{bench}', $3, $3)`,
					uuid.New(), f.workspace, f.now, uuid.New())
				tags = []string{"bench"}
			}
			applier := transition.NewApplier(time.Minute)
			at := f.now
			claimed := 0
			for b.Loop() {
				b.StopTimer()
				at = at.Add(time.Second)
				f.exec(b, `INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id, state,
					state_name, parameters, tags, expected_start_time, create_time, update_time, created_by)
					SELECT gen_random_uuid(), $1, $2, 1, $3, $4, 'SCHEDULED', 'Scheduled', '{}', $5, $6, $6, $6, 'bench'
					FROM generate_series(1, $7)`, f.workspace, f.deployments[0], f.poolID, f.queues[0], tags, at, batch)
				b.StartTimer()

				offered, err := f.offer(ctx, 0, batch, at)
				if err != nil || len(offered) != batch {
					b.Fatalf("offer: %d runs, %v", len(offered), err)
				}
				claims := make([]Claim, len(offered))
				reqs := make([]transition.Request, len(offered))
				for i, r := range offered {
					claims[i] = Claim{RunID: r.ID, Token: r.LeaseToken}
					reqs[i] = transition.Request{RunID: r.ID, Event: run.Claim{AgentID: f.agents[0].String(), Token: r.LeaseToken}}
				}
				err = f.store.Tx(ctx, func(q db.Querier) error {
					refused, err := AdmitClaims(ctx, q, f.agents[0], claims, at)
					if err != nil || len(refused) > 0 {
						b.Fatalf("admit claims: %d refused, %v", len(refused), err)
					}
					_, err = applier.Apply(ctx, q, at, reqs, nil)
					return err
				})
				if err != nil {
					b.Fatalf("claim: %v", err)
				}
				claimed += batch

				b.StopTimer()
				done := make([]transition.Request, len(offered))
				for i, r := range offered {
					done[i] = transition.Request{RunID: r.ID, Event: run.Completed{Token: r.LeaseToken}}
				}
				if err := f.store.Tx(ctx, func(q db.Querier) error {
					_, err := applier.Apply(ctx, q, at, done, nil)
					return err
				}); err != nil {
					b.Fatalf("complete: %v", err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(claimed)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}
