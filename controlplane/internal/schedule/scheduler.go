package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

const (
	// DefaultHorizon is how far ahead of now runs are created: long enough
	// to ride out a control-plane restart or a leader change.
	DefaultHorizon = time.Hour
	// DefaultMaxAhead caps the runs a schedule has waiting in the future, so
	// a dense schedule does not fill the runs table an hour ahead.
	DefaultMaxAhead = 10
	// DefaultInterval is the time between steps; runs exist an hour ahead,
	// so the step rate only bounds how soon a new schedule's runs appear.
	DefaultInterval = 5 * time.Second

	// leaderLockKey is the pg_advisory_lock key of the scheduler leader: the
	// bytes of "ferrysch" read as a big-endian integer. Every Ferry version
	// must use the same key.
	leaderLockKey int64 = 0x6665727279736368
	// stepPage is the number of schedules listed per query of a step.
	stepPage = 500
	// releaseTimeout bounds giving up leadership once the loop's context has
	// ended.
	releaseTimeout = 5 * time.Second
	// actorScheduler is the creator recorded on the runs the loop creates.
	actorScheduler = "scheduler"
)

// Scheduler creates the runs of active schedules ahead of their fire times.
// Any number of replicas may run one: a PostgreSQL advisory lock, held on
// a dedicated connection, elects one leader, and only the leader's steps
// create runs. Losing that connection loses leadership. Even two leaders at
// once (an old leader finishing a step while a new one starts) create at
// most one run per (schedule, fire time), through a unique index.
//
// Set the exported fields before the first call; a Scheduler is safe for
// concurrent use afterwards.
type Scheduler struct {
	// Store reaches PostgreSQL; required.
	Store *store.Store
	// Clock tells the time; required.
	Clock clock.Clock
	// Log receives leadership changes and broken schedules; required.
	Log *slog.Logger
	// Horizon is how far ahead runs are created. Default [DefaultHorizon].
	Horizon time.Duration
	// MaxAhead caps the future runs of one schedule. Default [DefaultMaxAhead].
	MaxAhead int
	// Interval is the time between steps of [Scheduler.Run]. Default
	// [DefaultInterval].
	Interval time.Duration

	mu     sync.Mutex
	leader *pgxpool.Conn
}

// Run steps every Interval until ctx ends, then gives up leadership.
func (s *Scheduler) Run(ctx context.Context) {
	defer s.Release(context.WithoutCancel(ctx))
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	for {
		if _, err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "scheduler step failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.Clock.After(interval):
		}
	}
}

// Step becomes or stays the leader if it can and, when it leads, creates
// the due runs of every active schedule. It returns the number of runs
// created; a follower's step creates none. A schedule that fails (a bad
// zone, parameters its deployment's schema refuses, a failing insert) is
// logged and skipped, and the others go on; the error returned is about
// the step as a whole, such as losing the database.
func (s *Scheduler) Step(ctx context.Context) (int, error) {
	leading, err := s.lead(ctx)
	if err != nil || !leading {
		return 0, err
	}
	return s.createDue(ctx)
}

// Leading reports whether the scheduler held leadership at its last step.
func (s *Scheduler) Leading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader != nil
}

// Release gives up leadership, if held, so another replica can lead at
// once rather than when this one's connection is found dead.
func (s *Scheduler) Release(ctx context.Context) {
	s.mu.Lock()
	conn := s.leader
	s.leader = nil
	s.mu.Unlock()
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", leaderLockKey); err != nil {
		// Closing the session is the other way to drop a session lock.
		_ = conn.Conn().Close(ctx)
	}
	conn.Release()
	s.Log.InfoContext(ctx, "scheduler leadership released")
}

// lead checks that the leader's connection still works, or tries to take
// the leader lock when not leading.
func (s *Scheduler) lead(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leader != nil {
		if _, err := s.leader.Exec(ctx, "SELECT 1"); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			// The session, and its lock with it, may be gone: never reuse it.
			_ = s.leader.Conn().Close(context.WithoutCancel(ctx))
			s.leader.Release()
			s.leader = nil
			s.Log.WarnContext(ctx, "scheduler leadership lost", slog.Any("error", err))
			return false, nil
		}
		return true, nil
	}
	conn, err := s.Store.Pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire connection for the leader lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", leaderLockKey).Scan(&got); err != nil {
		conn.Release()
		return false, fmt.Errorf("try the leader lock: %w", err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	s.leader = conn
	s.Log.InfoContext(ctx, "scheduler leadership gained")
	return true, nil
}

// createDue steps every active schedule whose runs do not yet reach the
// horizon, each in its own transaction.
func (s *Scheduler) createDue(ctx context.Context) (int, error) {
	now := s.Clock.Now()
	horizon := s.Horizon
	if horizon <= 0 {
		horizon = DefaultHorizon
	}
	total := 0
	after := uuid.Nil
	for {
		ids, err := s.Store.Q.ScheduleListDue(ctx, db.ScheduleListDueParams{
			Until: now.Add(horizon), AfterID: after, MaxSchedules: stepPage,
		})
		if err != nil {
			return total, fmt.Errorf("list due schedules: %w", err)
		}
		for _, id := range ids {
			n, err := s.stepSchedule(ctx, id, now)
			if ctx.Err() != nil {
				return total, ctx.Err()
			}
			if err != nil {
				s.Log.WarnContext(ctx, "schedule skipped",
					slog.String("schedule_id", id.String()), slog.Any("error", err))
				continue
			}
			total += n
		}
		if len(ids) < stepPage {
			return total, nil
		}
		after = ids[len(ids)-1]
	}
}

// stepSchedule creates the due runs of one schedule and moves its cursor,
// in one transaction: either both happen or neither does.
func (s *Scheduler) stepSchedule(ctx context.Context, id uuid.UUID, now time.Time) (int, error) {
	horizon := s.Horizon
	if horizon <= 0 {
		horizon = DefaultHorizon
	}
	maxAhead := s.MaxAhead
	if maxAhead <= 0 {
		maxAhead = DefaultMaxAhead
	}
	created := 0
	err := s.Store.Tx(ctx, func(q db.Querier) error {
		row, err := q.ScheduleLockForStep(ctx, id)
		if store.IsNotFound(err) {
			// Paused, deleted or being applied since it was listed.
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock schedule: %w", err)
		}
		sc := row.Schedule
		sp, err := compile(definitionOf(sc))
		if err != nil {
			return err
		}
		p := makePlan(planInput{
			spec:       sp,
			cursor:     sc.LastNominalTime,
			now:        now,
			horizon:    horizon,
			maxAhead:   maxAhead,
			keepMissed: keepMissed(CatchUp(sc.CatchUp), int(sc.CatchUpLimit)),
			dropAfter:  time.Duration(sc.DropAfterMs) * time.Millisecond,
		})
		if p.scanCut {
			s.Log.WarnContext(ctx, "schedule missed too many fire times to catch up; dropped them",
				slog.String("schedule_id", id.String()), slog.Int("scan_limit", maxCatchUpScan))
		}
		created, err = createRuns(ctx, q, sc, row.Deployment, p.create, now, actorScheduler)
		if err != nil {
			return err
		}
		if !p.cursor.After(sc.LastNominalTime) {
			return nil
		}
		if err := q.ScheduleAdvance(ctx, db.ScheduleAdvanceParams{ID: id, LastNominalTime: p.cursor}); err != nil {
			return fmt.Errorf("advance schedule cursor: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if created > 0 {
		s.Log.DebugContext(ctx, "scheduled runs created",
			slog.String("schedule_id", id.String()), slog.Int("runs", created))
	}
	return created, nil
}
