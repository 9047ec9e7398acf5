package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/schedule/spec"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
)

const (
	// DefaultBackfillRuns caps a backfill that sets no cap of its own.
	DefaultBackfillRuns = 100
	// MaxBackfillRuns is the largest cap a backfill may set.
	MaxBackfillRuns = 1000
	// DefaultPreviewCount is the number of fire times a preview lists
	// when the caller asks for none in particular.
	DefaultPreviewCount = 10
	// MaxPreviewCount bounds one preview.
	MaxPreviewCount = 1000
	// DefaultListLimit is the page size of [Service.List] when none is given.
	DefaultListLimit = 100
)

// Errors the [Service] returns for the caller to tell apart.
var (
	// ErrNotFound reports a schedule that does not exist in the workspace.
	ErrNotFound = errors.New("schedule not found")
	// ErrDeploymentNotFound reports a deployment that does not exist in
	// the workspace, or was deleted.
	ErrDeploymentNotFound = errors.New("deployment not found")
)

// Service applies, reads, pauses, deletes, previews and backfills
// schedules. Each method acts in one workspace; the caller has
// authenticated and authorized the request. Set the exported fields before
// the first call; a Service is safe for concurrent use afterwards.
type Service struct {
	// Store reaches PostgreSQL; required.
	Store *store.Store
	// Clock tells the time; required.
	Clock clock.Clock
	// Log receives schedule changes; required.
	Log *slog.Logger
	// Applier cancels the future runs of a paused, changed or deleted
	// schedule; required.
	Applier *transition.Applier
	// MinInterval is the shortest time allowed between two fire times of a
	// schedule. Default [DefaultMinInterval].
	MinInterval time.Duration
}

// Schedule is a stored schedule.
type Schedule struct {
	ID         uuid.UUID
	Deployment string
	Name       string
	// Definition is the schedule as applied, with defaults written out.
	Definition Definition
	// LastNominalTime is the newest fire time the scheduler has handled.
	LastNominalTime time.Time
	// NextFireTime is the first fire time after LastNominalTime; zero when
	// the schedule fires no more or its definition no longer compiles.
	NextFireTime time.Time
	CreateTime   time.Time
	UpdateTime   time.Time
}

// ApplyResult is the outcome of [Service.Apply].
type ApplyResult struct {
	Schedule Schedule
	// Created reports whether the schedule is new.
	Created bool
	// Changed reports whether anything was written.
	Changed bool
	// CancelledRuns counts the future runs cancelled because the schedule
	// was paused or now fires at other times or with other parameters.
	CancelledRuns int
}

// Apply creates the schedule name of a deployment, or updates it. A
// definition that does not parse, names an unknown zone, fires more often
// than MinInterval or gives parameters the deployment's schema refuses is
// refused with a [*FieldError] and nothing is written. Applying the same
// definition again writes nothing.
//
// An update that pauses the schedule, or changes its fire times, jitter or
// parameters, cancels the runs it had created for fire times still in the
// future; the scheduler creates them again as the schedule now says. Fire
// times missed while a schedule was paused follow its catch-up policy once
// it is active again.
func (s *Service) Apply(
	ctx context.Context,
	workspaceID uuid.UUID,
	actor, deployment, name string,
	def Definition,
) (ApplyResult, error) {
	var out ApplyResult
	apply := func(q db.Querier) error {
		var err error
		out, err = s.apply(ctx, q, workspaceID, actor, deployment, name, def)
		return err
	}
	err := s.Store.Tx(ctx, apply)
	if store.IsUniqueViolation(err) {
		// A concurrent apply created the schedule after this one found
		// none; it is committed now, so this apply becomes an update.
		err = s.Store.Tx(ctx, apply)
	}
	if err != nil {
		return ApplyResult{}, err
	}
	if out.Changed {
		s.Log.InfoContext(ctx, "schedule applied",
			slog.String("workspace_id", workspaceID.String()),
			slog.String("schedule_id", out.Schedule.ID.String()),
			slog.String("deployment", deployment),
			slog.String("schedule", name),
			slog.Bool("created", out.Created),
			slog.Int("cancelled_runs", out.CancelledRuns))
	}
	return out, nil
}

func (s *Service) apply(
	ctx context.Context,
	q db.Querier,
	workspaceID uuid.UUID,
	actor, deployment, name string,
	def Definition,
) (ApplyResult, error) {
	now := s.Clock.Now()
	d, err := q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: workspaceID, Name: deployment})
	if store.IsNotFound(err) {
		return ApplyResult{}, ErrDeploymentNotFound
	}
	if err != nil {
		return ApplyResult{}, fmt.Errorf("read deployment: %w", err)
	}
	old, err := q.ScheduleLockByName(ctx, db.ScheduleLockByNameParams{DeploymentID: d.ID, Name: name})
	exists := err == nil
	if err != nil && !store.IsNotFound(err) {
		return ApplyResult{}, fmt.Errorf("lock schedule: %w", err)
	}

	var oldAnchor time.Time
	if exists && old.AnchorTime != nil {
		oldAnchor = *old.AnchorTime
	}
	def, err = def.normalize(oldAnchor, now)
	if err != nil {
		return ApplyResult{}, err
	}
	sp, err := compile(def)
	if err != nil {
		return ApplyResult{}, err
	}
	if err := checkMinInterval(sp, def, now, s.minInterval()); err != nil {
		return ApplyResult{}, err
	}
	dspec, err := deploymentSpec(ctx, q, d)
	if err != nil {
		return ApplyResult{}, err
	}
	if _, err := runParameters(dspec, def.Parameters); err != nil {
		return ApplyResult{}, err
	}

	var anchor *time.Time
	if !def.Anchor.IsZero() {
		anchor = &def.Anchor
	}
	if !exists {
		row, err := q.ScheduleInsert(ctx, db.ScheduleInsertParams{
			ID: uuid.Must(uuid.NewV7()), WorkspaceID: workspaceID, DeploymentID: d.ID, Name: name,
			Kind: string(def.Kind), Expression: def.Expression, Zone: def.Zone, AnchorTime: anchor,
			IntervalMs: def.Interval.Milliseconds(), Parameters: def.Parameters, Active: def.Active,
			JitterMs: def.Jitter.Milliseconds(), CatchUp: string(def.CatchUp),
			CatchUpLimit: int32(def.CatchUpLimit), DropAfterMs: def.DropAfter.Milliseconds(),
			// A new schedule has missed nothing: it starts from now.
			LastNominalTime: now, CreatedBy: actor, Now: now,
		})
		if err != nil {
			return ApplyResult{}, fmt.Errorf("insert schedule: %w", err)
		}
		return ApplyResult{Schedule: toSchedule(row, deployment, sp), Created: true, Changed: true}, nil
	}

	prev := definitionOf(old)
	if prev.equal(def) {
		return ApplyResult{Schedule: toSchedule(old, deployment, sp)}, nil
	}
	cursor := old.LastNominalTime
	cancelled := 0
	pausing := prev.Active && !def.Active
	if pausing || prev.timingKey() != def.timingKey() || prev.Parameters != def.Parameters || prev.Jitter != def.Jitter {
		reason := "schedule " + name + " changed"
		if pausing {
			reason = "schedule " + name + " paused"
		}
		cancelled, err = cancelFuture(ctx, q, s.Applier, old, now, actor, reason)
		if err != nil {
			return ApplyResult{}, err
		}
		// The cancelled fire times are after now: step back so the
		// scheduler creates them again as the schedule now says.
		if cursor.After(now) {
			cursor = now
		}
	}
	row, err := q.ScheduleUpdate(ctx, db.ScheduleUpdateParams{
		ID: old.ID, Kind: string(def.Kind), Expression: def.Expression, Zone: def.Zone, AnchorTime: anchor,
		IntervalMs: def.Interval.Milliseconds(), Parameters: def.Parameters, Active: def.Active,
		JitterMs: def.Jitter.Milliseconds(), CatchUp: string(def.CatchUp),
		CatchUpLimit: int32(def.CatchUpLimit), DropAfterMs: def.DropAfter.Milliseconds(),
		LastNominalTime: cursor, Now: now,
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("update schedule: %w", err)
	}
	return ApplyResult{Schedule: toSchedule(row, deployment, sp), Changed: true, CancelledRuns: cancelled}, nil
}

func (s *Service) minInterval() time.Duration {
	if s.MinInterval > 0 {
		return s.MinInterval
	}
	return DefaultMinInterval
}

// toSchedule turns a row into a [Schedule]; sp is its compiled definition,
// or nil when it does not compile.
func toSchedule(row db.Schedule, deployment string, sp Spec) Schedule {
	out := Schedule{
		ID:              row.ID,
		Deployment:      deployment,
		Name:            row.Name,
		Definition:      definitionOf(row),
		LastNominalTime: row.LastNominalTime,
		CreateTime:      row.CreateTime,
		UpdateTime:      row.UpdateTime,
	}
	if sp != nil {
		if t, ok := sp.Next(row.LastNominalTime); ok {
			out.NextFireTime = t
		}
	}
	return out
}

// toScheduleCompiled compiles row's definition and turns it into a
// [Schedule]; a row that no longer compiles (a zone removed from the zone
// database) is still returned, without a next fire time.
func (s *Service) toScheduleCompiled(ctx context.Context, row db.Schedule, deployment string) Schedule {
	sp, err := compile(definitionOf(row))
	if err != nil {
		s.Log.WarnContext(ctx, "stored schedule does not compile",
			slog.String("schedule_id", row.ID.String()), slog.Any("error", err))
		return toSchedule(row, deployment, nil)
	}
	return toSchedule(row, deployment, sp)
}

// ListCursor is where a listing continues: after this deployment and
// schedule name.
type ListCursor struct {
	Deployment string `json:"d"`
	Name       string `json:"n"`
}

// List returns up to limit schedules of a workspace ordered by deployment
// and name, after the cursor when it is not nil, of one deployment when
// deployment is not empty. Limit 0 means [DefaultListLimit].
func (s *Service) List(
	ctx context.Context,
	workspaceID uuid.UUID,
	deployment string,
	after *ListCursor,
	limit int,
) ([]Schedule, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	arg := db.ScheduleListParams{WorkspaceID: workspaceID, PageLimit: int32(limit)}
	if deployment != "" {
		arg.DeploymentName = &deployment
	}
	if after != nil {
		arg.CursorDeployment, arg.CursorName = &after.Deployment, &after.Name
	}
	rows, err := s.Store.Q.ScheduleList(ctx, arg)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]Schedule, len(rows))
	for i, r := range rows {
		out[i] = s.toScheduleCompiled(ctx, r.Schedule, r.DeploymentName)
	}
	return out, nil
}

// lockByName locks the schedule name of a deployment in q's transaction
// and returns it with its deployment.
func lockByName(
	ctx context.Context,
	q db.Querier,
	workspaceID uuid.UUID,
	deployment, name string,
) (db.Deployment, db.Schedule, error) {
	d, err := q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: workspaceID, Name: deployment})
	if store.IsNotFound(err) {
		return db.Deployment{}, db.Schedule{}, ErrDeploymentNotFound
	}
	if err != nil {
		return db.Deployment{}, db.Schedule{}, fmt.Errorf("read deployment: %w", err)
	}
	row, err := q.ScheduleLockByName(ctx, db.ScheduleLockByNameParams{DeploymentID: d.ID, Name: name})
	if store.IsNotFound(err) {
		return db.Deployment{}, db.Schedule{}, ErrNotFound
	}
	if err != nil {
		return db.Deployment{}, db.Schedule{}, fmt.Errorf("lock schedule: %w", err)
	}
	return d, row, nil
}

// Delete deletes a schedule and cancels its runs whose fire time is still
// in the future; it returns how many it cancelled. Runs already due, and
// every past run, are kept.
func (s *Service) Delete(ctx context.Context, workspaceID uuid.UUID, actor, deployment, name string) (int, error) {
	cancelled := 0
	err := s.Store.Tx(ctx, func(q db.Querier) error {
		_, row, err := lockByName(ctx, q, workspaceID, deployment, name)
		if err != nil {
			return err
		}
		cancelled, err = cancelFuture(ctx, q, s.Applier, row, s.Clock.Now(), actor, "schedule "+name+" deleted")
		if err != nil {
			return err
		}
		if err := q.ScheduleDelete(ctx, row.ID); err != nil {
			return fmt.Errorf("delete schedule: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.Log.InfoContext(ctx, "schedule deleted",
		slog.String("workspace_id", workspaceID.String()),
		slog.String("deployment", deployment),
		slog.String("schedule", name),
		slog.Int("cancelled_runs", cancelled))
	return cancelled, nil
}

// SetActive pauses (active false) or resumes (active true) a schedule and
// returns it with the number of future runs a pause cancelled. Pausing or
// resuming a schedule already in that state changes nothing.
func (s *Service) SetActive(
	ctx context.Context,
	workspaceID uuid.UUID,
	actor, deployment, name string,
	active bool,
) (Schedule, int, error) {
	var (
		row       db.Schedule
		cancelled int
		changed   bool
	)
	err := s.Store.Tx(ctx, func(q db.Querier) error {
		_, old, err := lockByName(ctx, q, workspaceID, deployment, name)
		if err != nil {
			return err
		}
		row = old
		if old.Active == active {
			return nil
		}
		now := s.Clock.Now()
		cursor := old.LastNominalTime
		if !active {
			cancelled, err = cancelFuture(ctx, q, s.Applier, old, now, actor, "schedule "+name+" paused")
			if err != nil {
				return err
			}
			if cursor.After(now) {
				cursor = now
			}
		}
		def := definitionOf(old)
		var anchor *time.Time
		if !def.Anchor.IsZero() {
			anchor = &def.Anchor
		}
		row, err = q.ScheduleUpdate(ctx, db.ScheduleUpdateParams{
			ID: old.ID, Kind: old.Kind, Expression: old.Expression, Zone: old.Zone, AnchorTime: anchor,
			IntervalMs: old.IntervalMs, Parameters: old.Parameters, Active: active,
			JitterMs: old.JitterMs, CatchUp: old.CatchUp, CatchUpLimit: old.CatchUpLimit,
			DropAfterMs: old.DropAfterMs, LastNominalTime: cursor, Now: now,
		})
		if err != nil {
			return fmt.Errorf("update schedule: %w", err)
		}
		changed = true
		return nil
	})
	if err != nil {
		return Schedule{}, 0, err
	}
	if changed {
		s.Log.InfoContext(ctx, "schedule activity changed",
			slog.String("workspace_id", workspaceID.String()),
			slog.String("schedule_id", row.ID.String()),
			slog.Bool("active", active),
			slog.Int("cancelled_runs", cancelled))
	}
	return s.toScheduleCompiled(ctx, row, deployment), cancelled, nil
}

// BackfillResult is the outcome of [Service.Backfill].
type BackfillResult struct {
	// NominalTimes are the fire times of the range, earliest first.
	NominalTimes []time.Time
	// Created counts the runs created now; the other fire times already
	// had one.
	Created int
}

// Backfill creates the runs the schedule would have made for its fire
// times from start to end, both included, whether or not it is active.
// The range must not reach into the future and may hold at most maxRuns
// fire times (0 means [DefaultBackfillRuns]); otherwise a [*FieldError]
// refuses it and nothing is written. A fire time that already has a run
// gets no second one, so repeating a backfill creates nothing.
func (s *Service) Backfill(
	ctx context.Context,
	workspaceID uuid.UUID,
	actor, deployment, name string,
	start, end time.Time,
	maxRuns int,
) (BackfillResult, error) {
	if maxRuns <= 0 {
		maxRuns = DefaultBackfillRuns
	}
	if maxRuns > MaxBackfillRuns {
		return BackfillResult{}, &FieldError{Field: "max_runs", Reason: fmt.Sprintf("must be at most %d", MaxBackfillRuns)}
	}
	if end.Before(start) {
		return BackfillResult{}, &FieldError{Field: "end", Reason: "is before start"}
	}
	now := s.Clock.Now()
	if end.After(now) {
		return BackfillResult{}, &FieldError{Field: "end", Reason: "is in the future; a backfill covers past fire times only"}
	}

	var out BackfillResult
	err := s.Store.Tx(ctx, func(q db.Querier) error {
		d, row, err := lockByName(ctx, q, workspaceID, deployment, name)
		if err != nil {
			return err
		}
		sp, err := compile(definitionOf(row))
		if err != nil {
			return err
		}
		var nominals []time.Time
		t, ok := sp.Next(start.Add(-time.Nanosecond))
		for ok && !t.After(end) {
			if len(nominals) == maxRuns {
				return &FieldError{Field: "end", Reason: fmt.Sprintf(
					"the range holds more than %d fire times; narrow it or raise max_runs", maxRuns)}
			}
			nominals = append(nominals, t)
			t, ok = sp.Next(t)
		}
		created, err := createRuns(ctx, q, row, d, nominals, now, actor)
		if err != nil {
			return err
		}
		out = BackfillResult{NominalTimes: nominals, Created: created}
		return nil
	})
	if err != nil {
		return BackfillResult{}, err
	}
	s.Log.InfoContext(ctx, "schedule backfilled",
		slog.String("workspace_id", workspaceID.String()),
		slog.String("deployment", deployment),
		slog.String("schedule", name),
		slog.Int("fire_times", len(out.NominalTimes)),
		slog.Int("runs", out.Created))
	return out, nil
}

// Preview is the next fire times of a schedule.
type Preview struct {
	// Zone is the schedule's time zone.
	Zone string
	// Fires are the fire times, earliest first, each with its local time
	// and a note on any daylight-saving change that shaped it.
	Fires []spec.Fire
}

// PreviewDefinition lists the next count fire times of def after the given
// instant, without storing anything (count 0 means
// [DefaultPreviewCount]). An invalid definition is refused with a
// [*FieldError], as [Service.Apply] would refuse it.
func (s *Service) PreviewDefinition(def Definition, after time.Time, count int) (Preview, error) {
	def, err := def.normalize(time.Time{}, s.Clock.Now())
	if err != nil {
		return Preview{}, err
	}
	sc, err := compile(def)
	if err != nil {
		return Preview{}, err
	}
	return preview(sc, def.Zone, after, count)
}

// PreviewStored lists the next count fire times of a stored schedule after
// the given instant (count 0 means [DefaultPreviewCount]).
func (s *Service) PreviewStored(
	ctx context.Context,
	workspaceID uuid.UUID,
	deployment, name string,
	after time.Time,
	count int,
) (Preview, error) {
	row, err := s.Store.Q.ScheduleGetByName(ctx, db.ScheduleGetByNameParams{
		WorkspaceID: workspaceID, DeploymentName: deployment, Name: name,
	})
	if store.IsNotFound(err) {
		return Preview{}, ErrNotFound
	}
	if err != nil {
		return Preview{}, fmt.Errorf("read schedule: %w", err)
	}
	sc, err := compile(definitionOf(row.Schedule))
	if err != nil {
		return Preview{}, err
	}
	return preview(sc, row.Schedule.Zone, after, count)
}

func preview(sc spec.Schedule, zone string, after time.Time, count int) (Preview, error) {
	if count == 0 {
		count = DefaultPreviewCount
	}
	if count < 0 || count > MaxPreviewCount {
		return Preview{}, &FieldError{Field: "count", Reason: fmt.Sprintf("must be between 0 and %d", MaxPreviewCount)}
	}
	return Preview{Zone: zone, Fires: sc.Preview(after, count)}, nil
}
