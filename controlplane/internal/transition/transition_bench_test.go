package transition

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// BenchmarkStateMachine measures the in-memory part of [Applier.Apply] for
// one agent's batch of 1,000 runs: building each snapshot, asking the state
// machine, and deriving the row and update parameters to write. The SQL that
// surrounds it is measured by the load driver in bench/loaddriver.
func BenchmarkStateMachine(b *testing.B) {
	const batch = 1000
	agent := uuid.New()
	now := time.Date(2025, 3, 30, 1, 30, 0, 0, time.UTC)
	offered := make([]db.Run, batch)
	for i := range offered {
		offered[i] = db.Run{
			ID: uuid.New(), WorkspaceID: uuid.New(), PoolID: uuid.New(),
			State: string(run.StateScheduled), StateName: run.DefaultName(run.StateScheduled),
			Attempt: 1, MaxAttempts: 3, AgentID: uuid.NullUUID{UUID: agent, Valid: true},
			LeaseToken: int64(i + 1), ExpectedStartTime: now, CreateTime: now, UpdateTime: now,
		}
	}
	a := NewApplier(30 * time.Second)
	steps := []struct {
		name  string
		event func(tok int64) run.Event
	}{
		{"claim", func(tok int64) run.Event { return run.Claim{AgentID: agent.String(), Token: tok} }},
		{"started", func(tok int64) run.Event { return run.Started{Token: tok} }},
		{"completed", func(tok int64) run.Event { return run.Completed{Token: tok} }},
	}
	// rows holds each step's input: the runs as the previous step left them.
	rows := offered
	for _, st := range steps {
		in := rows
		out := make([]db.Run, batch)
		reqs := make([]Request, batch)
		for i, r := range in {
			reqs[i] = Request{RunID: r.ID, Event: st.event(r.LeaseToken)}
		}
		step := func() {
			for i, r := range in {
				next, err := applyOne(a, r, reqs[i], now)
				if err != nil {
					b.Fatal(err)
				}
				out[i] = next
			}
		}
		step()
		b.Run(st.name+"/batch=1000", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
		})
		rows = out
	}
}

// applyOne applies one request to row as Apply does between its queries.
func applyOne(a *Applier, row db.Run, req Request, now time.Time) (db.Run, error) {
	snap, err := snapshot(context.Background(), nil, row, req.Event)
	if err != nil {
		return db.Run{}, err
	}
	res, err := run.Apply(snap, req.Event, now, a.jitter)
	if err != nil {
		return db.Run{}, err
	}
	next := a.nextRow(row, req, res, now)
	benchSink = db.RunUpdateManyParams{Now: now}
	addUpdate(&benchSink, next)
	return next, nil
}

// benchSink keeps the update parameters alive, so building them is measured.
var benchSink db.RunUpdateManyParams
