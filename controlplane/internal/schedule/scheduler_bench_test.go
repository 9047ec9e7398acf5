package schedule

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchSchedules is the number of cron schedules the scheduler benchmark
// steps through.
const benchSchedules = 10_000

// BenchmarkSchedulerStep10kSchedules times one scheduler step that creates
// the next hourly run of each of 10,000 cron schedules: every iteration
// moves the fake clock an hour on, so each step finds one new fire time per
// schedule within the horizon. It prints the time of one step as the line
// "scheduler_10k_schedules_ms N", which make bench reports.
func BenchmarkSchedulerStep10kSchedules(b *testing.B) {
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	bn := setup(b, start)
	bn.apply(b, "s-0", Definition{Kind: KindCron, Expression: "0 * * * *", Active: true})
	// The other schedules are copies of the first made in one statement, so
	// the setup takes seconds rather than 10,000 applies.
	bn.exec(b, `INSERT INTO schedules (id, workspace_id, deployment_id, name, kind, expression, zone,
	        anchor_time, interval_ms, parameters, active, jitter_ms, catch_up, catch_up_limit,
	        drop_after_ms, last_nominal_time, created_by, create_time, update_time)
	    SELECT gen_random_uuid(), workspace_id, deployment_id, 's-' || g, kind, expression, zone,
	        anchor_time, interval_ms, parameters, active, jitter_ms, catch_up, catch_up_limit,
	        drop_after_ms, last_nominal_time, created_by, create_time, update_time
	    FROM schedules, generate_series(1, $1::integer - 1) AS g
	    WHERE name = 's-0'`, benchSchedules)
	s := bn.scheduler(b)
	// A first step takes the leadership and creates the runs of the first
	// hour, so the timed steps each create exactly one run per schedule.
	if _, err := s.Step(ctx); err != nil {
		b.Fatalf("first step: %v", err)
	}

	var stepped time.Duration
	for b.Loop() {
		bn.clock.Advance(time.Hour)
		t0 := time.Now()
		n, err := s.Step(ctx)
		stepped += time.Since(t0)
		if err != nil {
			b.Fatalf("Step: %v", err)
		}
		if n != benchSchedules {
			b.Fatalf("Step created %d runs, want %d", n, benchSchedules)
		}
	}
	ms := float64(stepped.Milliseconds()) / float64(b.N)
	b.ReportMetric(ms, "ms/step")
	b.ReportMetric(benchSchedules, "runs/step")
	fmt.Printf("scheduler_10k_schedules_ms %.0f\n", ms)
}
