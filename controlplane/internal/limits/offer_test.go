package limits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fixture is a database holding one workspace with a pool, its queues, a
// deployment per queue and agents, ready for hand-made runs.
type fixture struct {
	pool        *pgxpool.Pool
	store       *store.Store
	workspace   uuid.UUID
	poolID      uuid.UUID
	queues      []uuid.UUID
	deployments []uuid.UUID
	agents      []uuid.UUID
	now         time.Time
}

func (f *fixture) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// setup makes a pool with the given limit, one queue per queue limit and
// the given number of agents.
func setup(t testing.TB, poolLimit int32, queueLimits []int32, agents int) *fixture {
	t.Helper()
	pool := dbtest.Pool(t)
	f := &fixture{pool: pool, store: store.New(pool), workspace: uuid.New(), poolID: uuid.New(),
		now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.exec(t, `INSERT INTO workspaces (id, name, create_time) VALUES ($1, 'ws', $2)`, f.workspace, f.now)
	f.exec(t, `INSERT INTO work_pools (id, workspace_id, name, type, concurrency_limit, create_time, update_time)
		VALUES ($1, $2, 'local', 'process', $3, $4, $4)`, f.poolID, f.workspace, poolLimit, f.now)
	for i, limit := range queueLimits {
		q, d := uuid.New(), uuid.New()
		f.exec(t, `INSERT INTO work_queues (id, workspace_id, pool_id, name, concurrency_limit, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, $6, $6)`, q, f.workspace, f.poolID, fmt.Sprintf("q%d", i), limit, f.now)
		f.exec(t, `INSERT INTO deployments (id, workspace_id, name, pool_id, queue_id, current_version, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, 1, $6, $6)`, d, f.workspace, fmt.Sprintf("d%d", i), f.poolID, q, f.now)
		f.queues = append(f.queues, q)
		f.deployments = append(f.deployments, d)
	}
	tok := uuid.New()
	f.exec(t, `INSERT INTO agent_tokens (id, workspace_id, pool_id, name, prefix, secret_hash, create_time)
		VALUES ($1, $2, $3, 't', $4, '\x00', $5)`, tok, f.workspace, f.poolID, tok.String()[:12], f.now)
	for i := range agents {
		a := uuid.New()
		f.exec(t, `INSERT INTO agents (id, workspace_id, pool_id, name, session_id, token_id, connect_time, last_heartbeat_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, a, f.workspace, f.poolID, fmt.Sprintf("a%d", i), uuid.New(), tok, f.now)
		f.agents = append(f.agents, a)
	}
	return f
}

// addRuns inserts n due SCHEDULED runs of deployment i with tags.
func (f *fixture) addRuns(t *testing.T, i, n int, tags ...string) []uuid.UUID {
	t.Helper()
	if tags == nil {
		tags = []string{}
	}
	var out []uuid.UUID
	for range n {
		id := uuid.New()
		f.exec(t, `INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id, state,
			state_name, parameters, tags, expected_start_time, create_time, update_time, created_by)
			VALUES ($1, $2, $3, 1, $4, $5, 'SCHEDULED', 'Scheduled', '{}', $6, $7, $7, $7, 'test')`,
			id, f.workspace, f.deployments[i], f.poolID, f.queues[i], tags, f.now)
		out = append(out, id)
	}
	return out
}

// offer runs one offer transaction for agent i.
func (f *fixture) offer(ctx context.Context, i int, max int32, at time.Time) ([]db.Run, error) {
	var runs []db.Run
	err := f.store.Tx(ctx, func(q db.Querier) error {
		var err error
		runs, _, err = Offer(ctx, q, OfferParams{
			WorkspaceID: f.workspace, PoolID: f.poolID, AgentID: f.agents[i],
			Now: at, ExpireTime: at.Add(10 * time.Second), Max: max,
		})
		return err
	})
	return runs, err
}

// activeBy counts the runs active at "at", by queue and in total.
func (f *fixture) activeBy(t *testing.T, at time.Time) (map[uuid.UUID]int, int) {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT queue_id FROM runs
		WHERE state IN ('PENDING', 'RUNNING', 'CANCELLING') OR (state = 'SCHEDULED' AND lease_expire_time > $1)`, at)
	if err != nil {
		t.Fatalf("count active runs: %v", err)
	}
	defer rows.Close()
	by, total := make(map[uuid.UUID]int), 0
	for rows.Next() {
		var q uuid.UUID
		if err := rows.Scan(&q); err != nil {
			t.Fatalf("scan: %v", err)
		}
		by[q]++
		total++
	}
	return by, total
}

// TestConcurrentOffersKeepLimits has many agents offer at once, several
// rounds, with a pool limit binding across three queues (one limited to a
// single run): at no point may more runs be offered than the limits allow.
func TestConcurrentOffersKeepLimits(t *testing.T) {
	t.Parallel()
	f := setup(t, 3, []int32{1, 0, 0}, 8)
	// The limited queue goes first, so every offerer wants its runs.
	f.exec(t, `UPDATE work_queues SET priority = 10 WHERE id = $1`, f.queues[0])
	for i := range 3 {
		f.addRuns(t, i, 30)
	}
	ctx := context.Background()
	for round := range 5 {
		at := f.now.Add(time.Duration(round) * time.Minute) // earlier offers have lapsed
		var wg sync.WaitGroup
		errs := make(chan error, len(f.agents))
		for i := range f.agents {
			wg.Go(func() {
				if _, err := f.offer(ctx, i, 4, at); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: offer: %v", round, err)
		}
		by, total := f.activeBy(t, at)
		if total != 3 || by[f.queues[0]] != 1 {
			t.Errorf("round %d: %d runs offered (%d in the limited queue), want 3 (1)", round, total, by[f.queues[0]])
		}
	}
}

// TestPriorityOrder checks that runs are offered by queue priority, then
// run priority, then expected start.
func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, []int32{0, 0}, 1)
	f.exec(t, `UPDATE work_queues SET priority = 10 WHERE id = $1`, f.queues[1])
	low := f.addRuns(t, 0, 2)
	high := f.addRuns(t, 1, 3)
	f.exec(t, `UPDATE runs SET priority = 5 WHERE id = $1`, high[2])
	f.exec(t, `UPDATE runs SET expected_start_time = expected_start_time - interval '1 minute' WHERE id = $1`, high[1])
	f.exec(t, `UPDATE runs SET priority = 9 WHERE id = $1`, low[1])
	runs, err := f.offer(context.Background(), 0, 10, f.now)
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	var got []uuid.UUID
	for _, r := range runs {
		got = append(got, r.ID)
	}
	want := []uuid.UUID{high[2], high[1], high[0], low[1], low[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("offer order\n got %v\nwant %v", got, want)
	}
}

// TestClaimOfLapsedOfferRechecksLimits checks the claim-time check: an
// agent claiming an offer that lapsed, after the slot went to another run,
// is refused, while a claim of a live offer is admitted.
func TestClaimOfLapsedOfferRechecksLimits(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, []int32{1}, 2)
	runs := f.addRuns(t, 0, 2)
	ctx := context.Background()
	first, err := f.offer(ctx, 0, 1, f.now)
	if err != nil || len(first) != 1 {
		t.Fatalf("first offer: %v runs, %v", len(first), err)
	}
	other := runs[0]
	if other == first[0].ID {
		other = runs[1]
	}
	// The other run goes first from now on, so it takes the slot.
	f.exec(t, `UPDATE runs SET expected_start_time = expected_start_time - interval '1 second' WHERE id = $1`, other)
	later := f.now.Add(time.Minute) // the first offer has lapsed
	second, err := f.offer(ctx, 1, 1, later)
	if err != nil || len(second) != 1 {
		t.Fatalf("second offer: %v runs, %v", len(second), err)
	}
	if second[0].ID != other {
		t.Fatalf("second offer took run %s, want %s", second[0].ID, other)
	}
	refused, err := AdmitClaims(ctx, f.store.Q, f.agents[0],
		[]Claim{{RunID: first[0].ID, Token: first[0].LeaseToken}}, later)
	if err != nil {
		t.Fatalf("admit claims: %v", err)
	}
	full := refused[first[0].ID]
	if full == nil || full.Scope != (Scope{KindQueue, f.queues[0]}) || !errors.Is(full, ErrFull) {
		t.Errorf("claim of the lapsed offer: refused %v, want the queue limit", full)
	}
	refused, err = AdmitClaims(ctx, f.store.Q, f.agents[1],
		[]Claim{{RunID: second[0].ID, Token: second[0].LeaseToken}}, later)
	if err != nil || len(refused) != 0 {
		t.Errorf("claim of the live offer: refused %v, %v; want admitted", refused, err)
	}
}

// TestNamedLimitsAndPause checks named limits selected by tag and by a
// deployment's list, and that paused deployments' runs are not offered.
func TestNamedLimitsAndPause(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, []int32{0, 0, 0}, 1)
	f.exec(t, `INSERT INTO concurrency_limits (id, workspace_id, name, slots, tags, create_time, update_time)
		VALUES ($1, $2, 'gpu', 2, '{gpu}', $3, $3), ($4, $2, 'db', 1, '{}', $3, $3)`,
		uuid.New(), f.workspace, f.now, uuid.New())
	f.exec(t, `INSERT INTO deployment_controls (deployment_id, workspace_id, limit_names, update_time)
		VALUES ($1, $2, '{db}', $3)`, f.deployments[1], f.workspace, f.now)
	f.exec(t, `INSERT INTO deployment_controls (deployment_id, workspace_id, paused, update_time)
		VALUES ($1, $2, true, $3)`, f.deployments[2], f.workspace, f.now)
	gpu := f.addRuns(t, 0, 4, "gpu", "x")
	plain := f.addRuns(t, 0, 1, "x")
	dbRuns := f.addRuns(t, 1, 3)
	f.addRuns(t, 2, 2)
	runs, err := f.offer(context.Background(), 0, 100, f.now)
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	count := map[string]int{}
	for _, r := range runs {
		switch {
		case contains(gpu, r.ID):
			count["gpu"]++
		case contains(plain, r.ID):
			count["plain"]++
		case contains(dbRuns, r.ID):
			count["db"]++
		default:
			count["paused"]++
		}
	}
	want := map[string]int{"gpu": 2, "plain": 1, "db": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("offered %v, want %v", count, want)
	}
}

func contains(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// TestNamedLimitAcrossPools has the dispatchers of two pools offer at
// once runs that share a named limit of one slot. Their candidates are
// different rows, so only the lock on the limit keeps both from counting
// the slot free.
func TestNamedLimitAcrossPools(t *testing.T) {
	t.Parallel()
	f := setup(t, 0, []int32{0}, 4)
	other := &fixture{pool: f.pool, store: f.store, workspace: f.workspace, poolID: uuid.New(), now: f.now}
	q, d, tok := uuid.New(), uuid.New(), uuid.New()
	f.exec(t, `INSERT INTO work_pools (id, workspace_id, name, type, create_time, update_time)
		VALUES ($1, $2, 'other', 'process', $3, $3)`, other.poolID, f.workspace, f.now)
	f.exec(t, `INSERT INTO work_queues (id, workspace_id, pool_id, name, create_time, update_time)
		VALUES ($1, $2, $3, 'q', $4, $4)`, q, f.workspace, other.poolID, f.now)
	f.exec(t, `INSERT INTO deployments (id, workspace_id, name, pool_id, queue_id, current_version, create_time, update_time)
		VALUES ($1, $2, 'other', $3, $4, 1, $5, $5)`, d, f.workspace, other.poolID, q, f.now)
	f.exec(t, `INSERT INTO agent_tokens (id, workspace_id, pool_id, name, prefix, secret_hash, create_time)
		VALUES ($1, $2, $3, 't', $4, '\x00', $5)`, tok, f.workspace, other.poolID, tok.String()[:12], f.now)
	other.queues, other.deployments = []uuid.UUID{q}, []uuid.UUID{d}
	for i := range 4 {
		a := uuid.New()
		f.exec(t, `INSERT INTO agents (id, workspace_id, pool_id, name, session_id, token_id, connect_time, last_heartbeat_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, a, f.workspace, other.poolID, fmt.Sprintf("o%d", i), uuid.New(), tok, f.now)
		other.agents = append(other.agents, a)
	}
	f.exec(t, `INSERT INTO concurrency_limits (id, workspace_id, name, slots, tags, create_time, update_time)
		VALUES ($1, $2, 'shared', 1, '{shared}', $3, $3)`, uuid.New(), f.workspace, f.now)
	f.addRuns(t, 0, 20, "shared")
	other.addRuns(t, 0, 20, "shared")

	ctx := context.Background()
	for round := range 20 {
		at := f.now.Add(time.Duration(round) * time.Minute) // earlier offers have lapsed
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 4 {
			for _, fx := range []*fixture{f, other} {
				wg.Go(func() {
					if _, err := fx.offer(ctx, i, 1, at); err != nil {
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: offer: %v", round, err)
		}
		if _, total := f.activeBy(t, at); total != 1 {
			t.Fatalf("round %d: %d runs offered under a limit of one slot", round, total)
		}
	}
}
