package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

func TestSchedulerCreatesAheadOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	s := b.scheduler(t)
	s.Horizon = time.Hour
	s.MaxAhead = 3
	sc := b.apply(t, "five", Definition{Kind: KindCron, Expression: "*/5 * * * *", Active: true}).Schedule

	// MaxAhead bounds the runs ahead, well inside the horizon.
	if got := step(t, s); got != 3 {
		t.Fatalf("first step created %d runs, want 3", got)
	}
	want := []scheduledRun{
		{utc(2025, 3, 1, 12, 5, 0), utc(2025, 3, 1, 12, 5, 0), "SCHEDULED"},
		{utc(2025, 3, 1, 12, 10, 0), utc(2025, 3, 1, 12, 10, 0), "SCHEDULED"},
		{utc(2025, 3, 1, 12, 15, 0), utc(2025, 3, 1, 12, 15, 0), "SCHEDULED"},
	}
	if diff := cmp.Diff(want, b.runsOf(t, sc.ID)); diff != "" {
		t.Fatalf("runs after the first step (-want +got):\n%s", diff)
	}
	if got := step(t, s); got != 0 {
		t.Fatalf("a repeated step created %d runs, want 0", got)
	}

	// Five minutes later one more fire time enters the window.
	b.clock.Advance(5 * time.Minute)
	if got := step(t, s); got != 1 {
		t.Fatalf("step after 5m created %d runs, want 1", got)
	}

	// Each run has its creation in the history, parameters from the
	// deployment's defaults, and the deployment's priority and tags.
	var history, matching int
	err := b.store.Pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM run_state_changes c JOIN runs r ON r.id = c.run_id
		        WHERE r.schedule_id = $1 AND c.from_state IS NULL AND c.to_state = 'SCHEDULED' AND c.actor = 'scheduler'),
		       (SELECT count(*) FROM runs WHERE schedule_id = $1 AND parameters = '{"day":"today"}'::jsonb
		        AND priority = 7 AND tags = '{nightly}' AND created_by = 'scheduler')`, sc.ID).Scan(&history, &matching)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	if history != 4 || matching != 4 {
		t.Errorf("creation history rows %d, runs with the deployment's settings %d; want 4 and 4", history, matching)
	}
}

func TestSchedulerRestartMidCreationMakesNoDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	first := b.scheduler(t)
	first.MaxAhead = 5
	sc := b.apply(t, "five", Definition{Kind: KindCron, Expression: "*/5 * * * *", Active: true}).Schedule
	if got := step(t, first); got != 5 {
		t.Fatalf("first step created %d runs, want 5", got)
	}
	before := b.runsOf(t, sc.ID)

	// A scheduler that died after inserting the runs but before its cursor
	// moved would leave the cursor behind; a new process then steps again.
	first.Release(context.Background())
	b.exec(t, `UPDATE schedules SET last_nominal_time = $1 WHERE id = $2`, utc(2025, 3, 1, 12, 0, 0), sc.ID)
	second := b.scheduler(t)
	second.MaxAhead = 5
	if got := step(t, second); got != 0 {
		t.Fatalf("step after the restart created %d runs, want 0", got)
	}
	if diff := cmp.Diff(before, b.runsOf(t, sc.ID)); diff != "" {
		t.Errorf("runs changed across the restart (-before +after):\n%s", diff)
	}
}

func TestTwoSchedulersMakeEachRunOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	for _, name := range []string{"a", "b", "c"} {
		b.apply(t, name, Definition{Kind: KindCron, Expression: "* * * * *", Active: true})
	}
	one, two := b.scheduler(t), b.scheduler(t)

	// Both step at once, many times, while the clock moves.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []*Scheduler{one, two} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				if _, err := s.Step(context.Background()); err != nil {
					errs <- err
					return
				}
				b.clock.Advance(20 * time.Second)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Step: %v", err)
	}
	if one.Leading() == two.Leading() {
		t.Fatalf("leading: one %v, two %v; want exactly one leader", one.Leading(), two.Leading())
	}

	// Stepping each schedule from two goroutines at once, leader lock
	// aside, still makes each run once.
	b.clock.Advance(2 * time.Hour)
	ids, err := b.store.Q.ScheduleListDue(context.Background(), db.ScheduleListDueParams{
		Until: b.clock.Now().Add(time.Hour), AfterID: uuid.Nil, MaxSchedules: 10,
	})
	if err != nil {
		t.Fatalf("list schedules: %v", err)
	}
	for _, id := range ids {
		var wg sync.WaitGroup
		for _, s := range []*Scheduler{one, two} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.stepSchedule(context.Background(), id, b.clock.Now()); err != nil {
					t.Errorf("stepSchedule: %v", err)
				}
			}()
		}
		wg.Wait()
	}

	var dups, total int
	err = b.store.Pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM (SELECT 1 FROM runs WHERE schedule_id IS NOT NULL
		        GROUP BY schedule_id, nominal_time HAVING count(*) > 1) d),
		       (SELECT count(*) FROM runs)`).Scan(&dups, &total)
	if err != nil {
		t.Fatalf("count runs: %v", err)
	}
	if dups != 0 || total == 0 {
		t.Errorf("%d (schedule, nominal time) pairs with several runs among %d runs; want none among some", dups, total)
	}
}

func TestLeadershipMovesWhenTheLeaderLeavesOrLosesItsConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	one, two := b.scheduler(t), b.scheduler(t)
	step(t, one)
	step(t, two)
	if !one.Leading() || two.Leading() {
		t.Fatalf("leading: one %v, two %v; want one", one.Leading(), two.Leading())
	}

	// A leader that releases hands over at the next step of another.
	one.Release(context.Background())
	step(t, two)
	if !two.Leading() {
		t.Fatal("two does not lead after one released")
	}

	// A leader whose session dies loses leadership at its next step.
	var pid int32
	key := uint64(leaderLockKey)
	err := b.store.Pool.QueryRow(context.Background(), `
		SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND classid::bigint = $1 AND objid::bigint = $2`, int64(key>>32), int64(key&0xffffffff)).Scan(&pid)
	if err != nil {
		t.Fatalf("find the leader's session: %v", err)
	}
	b.exec(t, `SELECT pg_terminate_backend($1)`, pid)
	// pg_terminate_backend only signals the backend, which exits a moment
	// later; from then on two's step finds its session gone and gives up
	// leading (a later step of two could take the lock again).
	deadline := time.Now().Add(30 * time.Second)
	for step(t, two); two.Leading(); step(t, two) {
		if time.Now().After(deadline) {
			t.Fatal("two still leads 30s after its session was terminated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The dead session drops its lock as its backend exits, a moment after
	// the connection closes.
	for step(t, one); !one.Leading(); step(t, one) {
		if time.Now().After(deadline) {
			t.Fatal("one does not lead 30s after two lost its session")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCatchUpPolicies(t *testing.T) {
	t.Parallel()
	start := utc(2025, 3, 1, 12, 0, 30)
	down := utc(2025, 3, 1, 22, 0, 30) // back after ten hours
	tests := []struct {
		name string
		def  func(Definition) Definition
		// want lists the runs created by the step after the outage.
		want []time.Time
	}{
		{
			name: "skip",
			def:  func(d Definition) Definition { d.CatchUp = CatchUpSkip; return d },
			want: []time.Time{utc(2025, 3, 1, 23, 0, 0)},
		},
		{
			name: "latest",
			def:  func(d Definition) Definition { d.CatchUp = CatchUpLatest; return d },
			want: []time.Time{utc(2025, 3, 1, 22, 0, 0), utc(2025, 3, 1, 23, 0, 0)},
		},
		{
			name: "all up to a cap",
			def:  func(d Definition) Definition { d.CatchUp, d.CatchUpLimit = CatchUpAll, 3; return d },
			want: []time.Time{
				utc(2025, 3, 1, 20, 0, 0), utc(2025, 3, 1, 21, 0, 0), utc(2025, 3, 1, 22, 0, 0),
				utc(2025, 3, 1, 23, 0, 0),
			},
		},
		{
			name: "all under the cap",
			def:  func(d Definition) Definition { d.CatchUp, d.CatchUpLimit = CatchUpAll, 50; return d },
			want: []time.Time{
				utc(2025, 3, 1, 14, 0, 0), utc(2025, 3, 1, 15, 0, 0), utc(2025, 3, 1, 16, 0, 0),
				utc(2025, 3, 1, 17, 0, 0), utc(2025, 3, 1, 18, 0, 0), utc(2025, 3, 1, 19, 0, 0),
				utc(2025, 3, 1, 20, 0, 0), utc(2025, 3, 1, 21, 0, 0), utc(2025, 3, 1, 22, 0, 0),
				utc(2025, 3, 1, 23, 0, 0),
			},
		},
		{
			name: "all with a drop threshold",
			def: func(d Definition) Definition {
				d.CatchUp, d.CatchUpLimit, d.DropAfter = CatchUpAll, 10, 90*time.Minute
				return d
			},
			want: []time.Time{utc(2025, 3, 1, 21, 0, 0), utc(2025, 3, 1, 22, 0, 0), utc(2025, 3, 1, 23, 0, 0)},
		},
		{
			name: "latest older than the drop threshold",
			def:  func(d Definition) Definition { d.CatchUp, d.DropAfter = CatchUpLatest, 10*time.Second; return d },
			want: []time.Time{utc(2025, 3, 1, 23, 0, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, start)
			s := b.scheduler(t)
			sc := b.apply(t, "hourly", tt.def(hourly())).Schedule
			if got := step(t, s); got != 1 {
				t.Fatalf("first step created %d runs, want 1 (13:00)", got)
			}
			b.clock.Set(down)
			step(t, s)
			got := b.nominals(t, sc.ID, "SCHEDULED")
			want := append([]time.Time{utc(2025, 3, 1, 13, 0, 0)}, tt.want...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPauseCancelsFutureRunsAndResumeCreatesThemAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	s := b.scheduler(t)
	s.MaxAhead = 3
	sc := b.apply(t, "ten", Definition{Kind: KindCron, Expression: "*/10 * * * *", Active: true}).Schedule
	step(t, s)

	paused, cancelled, err := b.svc.SetActive(context.Background(), b.ws, testActor, b.depName, "ten", false)
	if err != nil {
		t.Fatalf("pause: %v", err)
	}
	if cancelled != 3 || paused.Definition.Active {
		t.Fatalf("pause cancelled %d runs, active %v; want 3 and false", cancelled, paused.Definition.Active)
	}
	if got := b.runsOf(t, sc.ID); len(got) != 0 {
		t.Fatalf("runs still linked after the pause: %v", got)
	}
	var detached int
	if err := b.store.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM runs WHERE schedule_id IS NULL AND state = 'CANCELLED'`).Scan(&detached); err != nil {
		t.Fatalf("count cancelled runs: %v", err)
	}
	if detached != 3 {
		t.Fatalf("%d cancelled runs, want 3", detached)
	}

	// A paused schedule makes nothing.
	b.clock.Advance(2 * time.Minute)
	if got := step(t, s); got != 0 {
		t.Fatalf("a paused schedule's step created %d runs", got)
	}

	// Resumed before its next fire time, it makes the same fire times again.
	if _, _, err := b.svc.SetActive(context.Background(), b.ws, testActor, b.depName, "ten", true); err != nil {
		t.Fatalf("resume: %v", err)
	}
	step(t, s)
	want := []time.Time{utc(2025, 3, 1, 12, 10, 0), utc(2025, 3, 1, 12, 20, 0), utc(2025, 3, 1, 12, 30, 0)}
	if diff := cmp.Diff(want, b.nominals(t, sc.ID, "SCHEDULED")); diff != "" {
		t.Errorf("runs after resume (-want +got):\n%s", diff)
	}
}

func TestApplyChangeRecreatesFutureRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	s := b.scheduler(t)
	s.MaxAhead = 2
	def := Definition{Kind: KindCron, Expression: "*/10 * * * *", Active: true, Parameters: `{"day":"mon"}`}
	sc := b.apply(t, "ten", def).Schedule
	step(t, s)

	// The same definition again writes nothing.
	if res := b.apply(t, "ten", def); res.Changed || res.Created || res.CancelledRuns != 0 {
		t.Fatalf("unchanged apply: %+v", res)
	}

	def.Parameters = `{"day":"tue"}`
	res := b.apply(t, "ten", def)
	if !res.Changed || res.CancelledRuns != 2 {
		t.Fatalf("apply with new parameters: changed %v, cancelled %d; want true and 2", res.Changed, res.CancelledRuns)
	}
	if got := step(t, s); got != 2 {
		t.Fatalf("step after the change created %d runs, want 2", got)
	}
	var withNew int
	if err := b.store.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM runs WHERE schedule_id = $1 AND parameters->>'day' = 'tue' AND state = 'SCHEDULED'`,
		sc.ID).Scan(&withNew); err != nil {
		t.Fatalf("count runs: %v", err)
	}
	if withNew != 2 {
		t.Errorf("%d runs with the new parameters, want 2", withNew)
	}
}

func TestBrokenScheduleDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		breakIt func(t *testing.T, b *bundle, s *Scheduler, broken Schedule)
	}{
		{
			name: "zone removed from the zone database",
			breakIt: func(t *testing.T, b *bundle, _ *Scheduler, broken Schedule) {
				b.exec(t, `UPDATE schedules SET zone = 'Mars/Olympus_Mons' WHERE id = $1`, broken.ID)
			},
		},
		{
			name: "parameters the deployment's schema now refuses",
			breakIt: func(t *testing.T, b *bundle, _ *Scheduler, broken Schedule) {
				b.exec(t, `UPDATE schedules SET parameters = '{"day":5}' WHERE id = $1`, broken.ID)
			},
		},
		{
			name: "failing insert",
			breakIt: func(_ *testing.T, b *bundle, s *Scheduler, broken Schedule) {
				s.Store = b.store.WithFaults(func(q db.Querier) db.Querier {
					return failingInsert{Querier: q, schedule: broken.ID}
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, utc(2025, 3, 1, 12, 0, 30))
			s := b.scheduler(t)
			var scheds []Schedule
			for _, name := range []string{"a", "broken", "c"} {
				scheds = append(scheds, b.apply(t, name, hourly()).Schedule)
			}
			tt.breakIt(t, b, s, scheds[1])
			if got := step(t, s); got != 2 {
				t.Fatalf("step created %d runs, want 2 (one per healthy schedule)", got)
			}
			for i, sc := range scheds {
				want := 1
				if i == 1 {
					want = 0
				}
				if got := len(b.runsOf(t, sc.ID)); got != want {
					t.Errorf("schedule %s has %d runs, want %d", sc.Name, got, want)
				}
			}
		})
	}
}

// failingInsert fails the run inserts of one schedule.
type failingInsert struct {
	db.Querier
	schedule uuid.UUID
}

func (f failingInsert) RunInsertScheduled(ctx context.Context, arg db.RunInsertScheduledParams) ([]db.RunInsertScheduledRow, error) {
	if arg.ScheduleID == f.schedule {
		return nil, errors.New("injected insert failure")
	}
	return f.Querier.RunInsertScheduled(ctx, arg)
}

func TestDaylightSavingSpringForwardThroughTheScheduler(t *testing.T) {
	t.Parallel()
	// Europe/Berlin jumps from 02:00 CET to 03:00 CEST on 2025-03-30.
	b := setup(t, utc(2025, 3, 28, 12, 0, 0))
	s := b.scheduler(t)
	sc := b.apply(t, "night", Definition{Kind: KindCron, Expression: "30 2 * * *", Zone: "Europe/Berlin", Active: true}).Schedule
	for b.clock.Now().Before(utc(2025, 4, 1, 12, 0, 0)) {
		step(t, s)
		b.clock.Advance(10 * time.Minute)
	}
	want := []time.Time{
		utc(2025, 3, 29, 1, 30, 0), // 02:30 CET
		utc(2025, 3, 30, 1, 0, 0),  // 02:30 does not exist: 03:00 CEST
		utc(2025, 3, 31, 0, 30, 0), // 02:30 CEST
		utc(2025, 4, 1, 0, 30, 0),
	}
	if diff := cmp.Diff(want, b.nominals(t, sc.ID, "SCHEDULED")); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestJitterMovesExpectedStartNotNominalTime(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	s := b.scheduler(t)
	s.MaxAhead = 5
	def := Definition{Kind: KindCron, Expression: "*/5 * * * *", Active: true, Jitter: 2 * time.Minute}
	sc := b.apply(t, "j", def).Schedule
	step(t, s)
	runs := b.runsOf(t, sc.ID)
	if len(runs) != 5 {
		t.Fatalf("%d runs, want 5", len(runs))
	}
	moved := 0
	for _, r := range runs {
		if r.Nominal.Minute()%5 != 0 || r.Nominal.Second() != 0 {
			t.Errorf("nominal time %v is not a fire time", r.Nominal)
		}
		d := r.Expected.Sub(r.Nominal)
		if d < 0 || d >= 2*time.Minute {
			t.Errorf("run at %v expected at %v: delay %v outside [0, 2m)", r.Nominal, r.Expected, d)
		}
		if d > 0 {
			moved++
		}
	}
	if moved == 0 {
		t.Error("jitter delayed no run")
	}
}
