package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/schedule"
	"github.com/ferryhq/ferry/controlplane/internal/schedule/spec"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// ScheduleServer implements [ferryv1connect.ScheduleServiceHandler] over a
// [schedule.Service]. Service, Clock and Log are required.
type ScheduleServer struct {
	Service *schedule.Service
	Clock   clock.Clock
	Log     *slog.Logger
}

var _ ferryv1connect.ScheduleServiceHandler = (*ScheduleServer)(nil)

// ApplySchedule creates or updates a schedule.
func (s *ScheduleServer) ApplySchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.ApplyScheduleRequest],
) (*connect.Response[ferryv1.ApplyScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	def, err := definitionFromProto(m.GetSpec(), s.Clock.Now())
	if err != nil {
		return nil, err
	}
	res, err := s.Service.Apply(ctx, p.WorkspaceID, p.Subject, m.GetDeployment(), m.GetName(), def)
	if err != nil {
		return nil, s.scheduleError(ctx, "apply schedule", m.GetDeployment(), m.GetName(), err)
	}
	return connect.NewResponse(&ferryv1.ApplyScheduleResponse{
		Schedule: scheduleToProto(res.Schedule),
		Created:  res.Created,
		Changed:  res.Changed,
	}), nil
}

// ListSchedules lists schedules ordered by deployment and name.
func (s *ScheduleServer) ListSchedules(
	ctx context.Context,
	req *connect.Request[ferryv1.ListSchedulesRequest],
) (*connect.Response[ferryv1.ListSchedulesResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	limit := int(m.GetPageSize())
	if limit == 0 {
		limit = schedule.DefaultListLimit
	}
	var after *schedule.ListCursor
	if m.GetPageToken() != "" {
		after = new(schedule.ListCursor)
		if err := decodeToken(m.GetPageToken(), after); err != nil {
			return nil, errInvalid("page_token", "not a token returned by ListSchedules")
		}
	}
	list, err := s.Service.List(ctx, p.WorkspaceID, m.GetDeployment(), after, limit)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list schedules", err)
	}
	resp := &ferryv1.ListSchedulesResponse{}
	for _, sc := range list {
		resp.Schedules = append(resp.Schedules, scheduleToProto(sc))
	}
	if len(list) == limit {
		last := list[len(list)-1]
		resp.NextPageToken = encodeToken(schedule.ListCursor{Deployment: last.Deployment, Name: last.Name})
	}
	return connect.NewResponse(resp), nil
}

// DeleteSchedule deletes a schedule and cancels its future runs.
func (s *ScheduleServer) DeleteSchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.DeleteScheduleRequest],
) (*connect.Response[ferryv1.DeleteScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	n, err := s.Service.Delete(ctx, p.WorkspaceID, p.Subject, m.GetDeployment(), m.GetName())
	if err != nil {
		return nil, s.scheduleError(ctx, "delete schedule", m.GetDeployment(), m.GetName(), err)
	}
	return connect.NewResponse(&ferryv1.DeleteScheduleResponse{CancelledRuns: int32(n)}), nil
}

// PauseSchedule pauses a schedule and cancels its future runs.
func (s *ScheduleServer) PauseSchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.PauseScheduleRequest],
) (*connect.Response[ferryv1.PauseScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	sc, n, err := s.Service.SetActive(ctx, p.WorkspaceID, p.Subject, m.GetDeployment(), m.GetName(), false)
	if err != nil {
		return nil, s.scheduleError(ctx, "pause schedule", m.GetDeployment(), m.GetName(), err)
	}
	return connect.NewResponse(&ferryv1.PauseScheduleResponse{Schedule: scheduleToProto(sc), CancelledRuns: int32(n)}), nil
}

// ResumeSchedule makes a paused schedule create runs again.
func (s *ScheduleServer) ResumeSchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.ResumeScheduleRequest],
) (*connect.Response[ferryv1.ResumeScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	sc, _, err := s.Service.SetActive(ctx, p.WorkspaceID, p.Subject, m.GetDeployment(), m.GetName(), true)
	if err != nil {
		return nil, s.scheduleError(ctx, "resume schedule", m.GetDeployment(), m.GetName(), err)
	}
	return connect.NewResponse(&ferryv1.ResumeScheduleResponse{Schedule: scheduleToProto(sc)}), nil
}

// PreviewSchedule lists the next fire times of a stored schedule or of a
// spec not yet applied.
func (s *ScheduleServer) PreviewSchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.PreviewScheduleRequest],
) (*connect.Response[ferryv1.PreviewScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	now := s.Clock.Now()
	after := now
	if m.GetAfter() != nil {
		if after, err = timeArg("after", m.GetAfter(), earliestTime, now.Add(scheduleHorizon)); err != nil {
			return nil, err
		}
	}
	count := int(m.GetCount())
	var prev schedule.Preview
	switch {
	case m.GetSpec() != nil:
		def, err := definitionFromProto(m.GetSpec(), s.Clock.Now())
		if err != nil {
			return nil, err
		}
		prev, err = s.Service.PreviewDefinition(def, after, count)
		if err != nil {
			return nil, s.scheduleError(ctx, "preview schedule", "", "", err)
		}
	case m.GetDeployment() != "" && m.GetName() != "":
		prev, err = s.Service.PreviewStored(ctx, p.WorkspaceID, m.GetDeployment(), m.GetName(), after, count)
		if err != nil {
			return nil, s.scheduleError(ctx, "preview schedule", m.GetDeployment(), m.GetName(), err)
		}
	default:
		return nil, errInvalid("spec", "give a spec, or the deployment and name of a stored schedule")
	}
	return connect.NewResponse(previewToProto(prev)), nil
}

// BackfillSchedule creates the runs of a past time range.
func (s *ScheduleServer) BackfillSchedule(
	ctx context.Context,
	req *connect.Request[ferryv1.BackfillScheduleRequest],
) (*connect.Response[ferryv1.BackfillScheduleResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	now := s.Clock.Now()
	start, err := timeArg("start", m.GetStart(), earliestTime, now.Add(scheduleHorizon))
	if err != nil {
		return nil, err
	}
	end, err := timeArg("end", m.GetEnd(), earliestTime, now.Add(scheduleHorizon))
	if err != nil {
		return nil, err
	}
	res, err := s.Service.Backfill(ctx, p.WorkspaceID, p.Subject, m.GetDeployment(), m.GetName(),
		start, end, int(m.GetMaxRuns()))
	if err != nil {
		return nil, s.scheduleError(ctx, "backfill schedule", m.GetDeployment(), m.GetName(), err)
	}
	resp := &ferryv1.BackfillScheduleResponse{
		Created:  int32(res.Created),
		Existing: int32(len(res.NominalTimes) - res.Created),
	}
	for _, t := range res.NominalTimes {
		resp.NominalTimes = append(resp.NominalTimes, timestamppb.New(t))
	}
	return connect.NewResponse(resp), nil
}

// scheduleError maps an error of package schedule to a Connect error.
func (s *ScheduleServer) scheduleError(ctx context.Context, op, deployment, name string, err error) error {
	var fe *schedule.FieldError
	switch {
	case errors.As(err, &fe):
		return errInvalid(fe.Field, "%s", fe.Reason)
	case errors.Is(err, schedule.ErrDeploymentNotFound):
		return errNotFound("deployment", deployment)
	case errors.Is(err, schedule.ErrNotFound):
		return errNotFound("schedule", deployment+"/"+name)
	}
	return errInternal(ctx, s.Log, op, err)
}

// definitionFromProto reads a request's schedule spec at now.
func definitionFromProto(sp *ferryv1.ScheduleSpec, now time.Time) (schedule.Definition, error) {
	def := schedule.Definition{
		Expression:   sp.GetExpression(),
		Zone:         sp.GetZone(),
		Interval:     sp.GetInterval().AsDuration(),
		Parameters:   sp.GetParameters(),
		Active:       sp.Active == nil || sp.GetActive(),
		Jitter:       sp.GetJitter().AsDuration(),
		CatchUpLimit: int(sp.GetCatchUpLimit()),
		DropAfter:    sp.GetDropIfLaterThan().AsDuration(),
	}
	switch sp.GetKind() {
	case ferryv1.ScheduleKind_SCHEDULE_KIND_CRON:
		def.Kind = schedule.KindCron
	case ferryv1.ScheduleKind_SCHEDULE_KIND_INTERVAL:
		def.Kind = schedule.KindInterval
	case ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE:
		def.Kind = schedule.KindRRule
	default:
		return def, errInvalid("spec.kind", "must be cron, interval or rrule")
	}
	switch sp.GetCatchUp() {
	case ferryv1.CatchUpPolicy_CATCH_UP_POLICY_UNSPECIFIED, ferryv1.CatchUpPolicy_CATCH_UP_POLICY_SKIP:
		def.CatchUp = schedule.CatchUpSkip
	case ferryv1.CatchUpPolicy_CATCH_UP_POLICY_LATEST:
		def.CatchUp = schedule.CatchUpLatest
	case ferryv1.CatchUpPolicy_CATCH_UP_POLICY_ALL:
		def.CatchUp = schedule.CatchUpAll
	default:
		return def, errInvalid("spec.catch_up", "unknown policy %v", sp.GetCatchUp())
	}
	if t := sp.GetAnchorTime(); t != nil {
		anchor, err := timeArg("spec.anchor_time", t, earliestTime, now.Add(scheduleHorizon))
		if err != nil {
			return def, err
		}
		def.Anchor = anchor
	}
	return def, nil
}

func scheduleToProto(sc schedule.Schedule) *ferryv1.Schedule {
	d := sc.Definition
	active := d.Active
	out := &ferryv1.Schedule{
		Id:         sc.ID.String(),
		Deployment: sc.Deployment,
		Name:       sc.Name,
		Spec: &ferryv1.ScheduleSpec{
			Expression:   d.Expression,
			Zone:         d.Zone,
			Parameters:   d.Parameters,
			Active:       &active,
			CatchUpLimit: int32(d.CatchUpLimit),
		},
		LastNominalTime: timestamppb.New(sc.LastNominalTime),
		CreateTime:      timestamppb.New(sc.CreateTime),
		UpdateTime:      timestamppb.New(sc.UpdateTime),
	}
	switch d.Kind {
	case schedule.KindCron:
		out.Spec.Kind = ferryv1.ScheduleKind_SCHEDULE_KIND_CRON
	case schedule.KindInterval:
		out.Spec.Kind = ferryv1.ScheduleKind_SCHEDULE_KIND_INTERVAL
	case schedule.KindRRule:
		out.Spec.Kind = ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE
	}
	switch d.CatchUp {
	case schedule.CatchUpSkip:
		out.Spec.CatchUp = ferryv1.CatchUpPolicy_CATCH_UP_POLICY_SKIP
	case schedule.CatchUpLatest:
		out.Spec.CatchUp = ferryv1.CatchUpPolicy_CATCH_UP_POLICY_LATEST
	case schedule.CatchUpAll:
		out.Spec.CatchUp = ferryv1.CatchUpPolicy_CATCH_UP_POLICY_ALL
	}
	if !d.Anchor.IsZero() {
		out.Spec.AnchorTime = timestamppb.New(d.Anchor)
	}
	out.Spec.Interval = optionalDuration(d.Interval)
	out.Spec.Jitter = optionalDuration(d.Jitter)
	out.Spec.DropIfLaterThan = optionalDuration(d.DropAfter)
	if !sc.NextFireTime.IsZero() {
		out.NextFireTime = timestamppb.New(sc.NextFireTime)
	}
	return out
}

func optionalDuration(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func previewToProto(p schedule.Preview) *ferryv1.PreviewScheduleResponse {
	out := &ferryv1.PreviewScheduleResponse{Zone: p.Zone}
	for _, f := range p.Fires {
		out.FireTimes = append(out.FireTimes, fireToProto(f))
	}
	return out
}

func fireToProto(f spec.Fire) *ferryv1.FireTime {
	return &ferryv1.FireTime{Time: timestamppb.New(f.Time), LocalTime: f.Local, DstNote: f.DST}
}
