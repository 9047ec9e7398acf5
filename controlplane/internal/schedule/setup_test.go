package schedule

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testActor is the subject recorded for calls made by tests.
const testActor = "apikey:test"

// bundle is what a scheduling test works with.
type bundle struct {
	store   *store.Store
	clock   *clock.Fake
	log     *slog.Logger
	svc     *Service
	ws      uuid.UUID
	depName string
	dep     db.Deployment
}

// setup returns a fresh database holding one workspace, one process pool
// and a deployment "etl" whose parameters need a string "day" (default
// "today"), with a Service over it and the clock at start.
func setup(t testing.TB, start time.Time) *bundle {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &bundle{store: st, clock: fake, log: log, depName: "etl"}
	b.svc = &Service{Store: st, Clock: fake, Log: log, Applier: transition.NewApplier(time.Minute)}

	ws, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "ws", Now: start})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}
	b.ws = ws.ID
	pool, err := st.Q.WorkPoolUpsert(ctx, db.WorkPoolUpsertParams{
		ID: uuid.New(), WorkspaceID: ws.ID, Name: "pool", Type: "process", Now: start,
	})
	if err != nil {
		t.Fatalf("insert pool: %v", err)
	}
	queue, err := st.Q.WorkQueueEnsure(ctx, db.WorkQueueEnsureParams{
		ID: uuid.New(), WorkspaceID: ws.ID, PoolID: pool.ID, Name: "default", Now: start,
	})
	if err != nil {
		t.Fatalf("insert queue: %v", err)
	}
	b.dep, err = st.Q.DeploymentInsert(ctx, db.DeploymentInsertParams{
		ID: uuid.New(), WorkspaceID: ws.ID, Name: b.depName, PoolID: pool.ID, QueueID: queue.ID, Now: start,
	})
	if err != nil {
		t.Fatalf("insert deployment: %v", err)
	}
	spec, err := protojson.Marshal(&ferryv1.DeploymentSpec{
		Pool:              "pool",
		Queue:             "default",
		Command:           []string{"etl", "{{ .day }}"},
		ParametersSchema:  `{"type":"object","properties":{"day":{"type":"string"}},"required":["day"]}`,
		DefaultParameters: `{"day":"today"}`,
		Tags:              []string{"nightly"},
		Priority:          7,
	})
	if err != nil {
		t.Fatalf("encode deployment spec: %v", err)
	}
	if err := st.Q.DeploymentVersionInsert(ctx, db.DeploymentVersionInsertParams{
		DeploymentID: b.dep.ID, Version: 1, Spec: spec, SpecHash: "h1", CreatedBy: testActor, Now: start,
	}); err != nil {
		t.Fatalf("insert deployment version: %v", err)
	}
	return b
}

// scheduler returns a Scheduler over the bundle's database and clock that
// gives up leadership when the test ends.
func (b *bundle) scheduler(t testing.TB) *Scheduler {
	t.Helper()
	s := &Scheduler{Store: b.store, Clock: b.clock, Log: b.log}
	t.Cleanup(func() { s.Release(context.Background()) })
	return s
}

// apply applies a schedule of the bundle's deployment and fails the test on
// error.
func (b *bundle) apply(t testing.TB, name string, def Definition) ApplyResult {
	t.Helper()
	res, err := b.svc.Apply(context.Background(), b.ws, testActor, b.depName, name, def)
	if err != nil {
		t.Fatalf("Apply(%s): %v", name, err)
	}
	return res
}

// step steps s once and fails the test on error.
func step(t *testing.T, s *Scheduler) int {
	t.Helper()
	n, err := s.Step(context.Background())
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	return n
}

// scheduledRun is what tests check of a run a schedule made.
type scheduledRun struct {
	Nominal  time.Time
	Expected time.Time
	State    string
}

// runsOf lists the runs still linked to schedule id, by nominal time.
func (b *bundle) runsOf(t *testing.T, id uuid.UUID) []scheduledRun {
	t.Helper()
	rows, err := b.store.Pool.Query(context.Background(),
		`SELECT nominal_time, expected_start_time, state FROM runs WHERE schedule_id = $1 ORDER BY nominal_time`, id)
	if err != nil {
		t.Fatalf("list runs: %v", err)
	}
	defer rows.Close()
	var out []scheduledRun
	for rows.Next() {
		var r scheduledRun
		if err := rows.Scan(&r.Nominal, &r.Expected, &r.State); err != nil {
			t.Fatalf("scan run: %v", err)
		}
		r.Nominal, r.Expected = r.Nominal.UTC(), r.Expected.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list runs: %v", err)
	}
	return out
}

// nominals lists the nominal times of the runs of schedule id in a state.
func (b *bundle) nominals(t *testing.T, id uuid.UUID, state string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, r := range b.runsOf(t, id) {
		if r.State == state {
			out = append(out, r.Nominal)
		}
	}
	return out
}

// exec runs one statement against the bundle's database.
func (b *bundle) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := b.store.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// hourly is a cron schedule firing at the top of every hour in UTC.
func hourly() Definition {
	return Definition{Kind: KindCron, Expression: "0 * * * *", Active: true}
}

// utc builds a UTC instant.
func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}
