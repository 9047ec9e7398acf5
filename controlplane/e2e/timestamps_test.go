package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// TestExtremeTimestamps sends every request field that carries a Timestamp
// the extremes a Timestamp can hold, and malformed ones, in both codecs:
// none may make the server fail (Internal, or a response it cannot encode),
// and a malformed one is refused naming the field.
func TestExtremeTimestamps(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.setupDeployment(t, "stamped")
	if _, err := p.tenancyClients(p.apiKey(t, p.workspace, "admin")).schedules.ApplySchedule(callCtx(t),
		connect.NewRequest(&ferryv1.ApplyScheduleRequest{Deployment: "stamped", Name: "yearly", Spec: tenancySchedule()})); err != nil {
		t.Fatalf("apply schedule: %v", err)
	}
	key := p.apiKey(t, p.workspace, "admin")

	yearOne := &timestamppb.Timestamp{Seconds: -62135596800}
	year9999 := &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}
	stamps := []struct {
		name string
		ts   *timestamppb.Timestamp
		// malformed stamps must be refused; the extremes may be accepted.
		malformed bool
	}{
		{name: "year 1", ts: yearOne},
		{name: "year 9999", ts: year9999},
		{name: "negative nanos", ts: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}, malformed: true},
		{name: "nanos over a second", ts: &timestamppb.Timestamp{Nanos: 1e9}, malformed: true},
		{name: "before year 1", ts: &timestamppb.Timestamp{Seconds: -62135596801}, malformed: true},
		{name: "after year 9999", ts: &timestamppb.Timestamp{Seconds: 253402300800}, malformed: true},
	}
	type services struct {
		runs      ferryv1connect.RunServiceClient
		audit     ferryv1connect.AuditServiceClient
		schedules ferryv1connect.ScheduleServiceClient
	}
	now := timestamppb.New(p.clock.Now())
	hourAgo := timestamppb.New(p.clock.Now().Add(-time.Hour))
	fields := []struct {
		field string
		call  func(ctx context.Context, c services, ts *timestamppb.Timestamp) error
	}{
		{"end_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.runs.GetRunStats(ctx, connect.NewRequest(&ferryv1.GetRunStatsRequest{EndTime: ts}))
			return err
		}},
		{"created_after", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.runs.ListRuns(ctx, connect.NewRequest(&ferryv1.ListRunsRequest{CreatedAfter: ts}))
			return err
		}},
		{"created_before", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.runs.ListRuns(ctx, connect.NewRequest(&ferryv1.ListRunsRequest{CreatedBefore: ts}))
			return err
		}},
		{"expected_start_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
				Deployment: "stamped", ExpectedStartTime: ts,
			}}))
			return err
		}},
		{"start_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.audit.ListAuditEvents(ctx, connect.NewRequest(&ferryv1.ListAuditEventsRequest{StartTime: ts}))
			return err
		}},
		{"end_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.audit.ListAuditEvents(ctx, connect.NewRequest(&ferryv1.ListAuditEventsRequest{EndTime: ts}))
			return err
		}},
		{"after", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.schedules.PreviewSchedule(ctx, connect.NewRequest(&ferryv1.PreviewScheduleRequest{
				Deployment: "stamped", Name: "yearly", After: ts,
			}))
			return err
		}},
		{"after", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.schedules.PreviewSchedule(ctx, connect.NewRequest(&ferryv1.PreviewScheduleRequest{
				Spec:  &ferryv1.ScheduleSpec{Kind: ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE, Expression: "FREQ=MONTHLY", Zone: "UTC"},
				After: ts,
			}))
			return err
		}},
		{"anchor_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.schedules.PreviewSchedule(ctx, connect.NewRequest(&ferryv1.PreviewScheduleRequest{
				Spec: &ferryv1.ScheduleSpec{Kind: ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE, Expression: "FREQ=MONTHLY", Zone: "UTC", AnchorTime: ts},
			}))
			return err
		}},
		{"anchor_time", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			active := false
			_, err := c.schedules.ApplySchedule(ctx, connect.NewRequest(&ferryv1.ApplyScheduleRequest{
				Deployment: "stamped", Name: "anchored",
				Spec: &ferryv1.ScheduleSpec{Kind: ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE, Expression: "FREQ=MONTHLY", Zone: "UTC", AnchorTime: ts, Active: &active},
			}))
			return err
		}},
		{"start", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.schedules.BackfillSchedule(ctx, connect.NewRequest(&ferryv1.BackfillScheduleRequest{
				Deployment: "stamped", Name: "yearly", Start: ts, End: now,
			}))
			return err
		}},
		{"end", func(ctx context.Context, c services, ts *timestamppb.Timestamp) error {
			_, err := c.schedules.BackfillSchedule(ctx, connect.NewRequest(&ferryv1.BackfillScheduleRequest{
				Deployment: "stamped", Name: "yearly", Start: hourAgo, End: ts,
			}))
			return err
		}},
	}
	// Only the binary codec can carry a malformed Timestamp: the JSON
	// client refuses to encode one.
	codecs := []struct {
		name      string
		opts      []connect.ClientOption
		malformed bool
	}{
		{name: "proto", malformed: true},
		{name: "json", opts: []connect.ClientOption{connect.WithProtoJSON()}},
	}
	for _, codec := range codecs {
		opts := append([]connect.ClientOption{connect.WithInterceptors(bearer(key))}, codec.opts...)
		c := services{
			runs:      ferryv1connect.NewRunServiceClient(p.http, p.url, opts...),
			audit:     ferryv1connect.NewAuditServiceClient(p.http, p.url, opts...),
			schedules: ferryv1connect.NewScheduleServiceClient(p.http, p.url, opts...),
		}
		for _, f := range fields {
			for _, st := range stamps {
				if st.malformed && !codec.malformed {
					continue
				}
				err := f.call(callCtx(t), c, st.ts)
				what := codec.name + " " + f.field + " " + st.name
				if err == nil {
					if st.malformed {
						t.Errorf("%s: accepted", what)
					}
					continue
				}
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
					t.Errorf("%s: %v, want InvalidArgument or success", what, err)
					continue
				}
				if !strings.Contains(ce.Message(), f.field) {
					t.Errorf("%s: message %q does not name %s", what, ce.Message(), f.field)
				}
			}
		}
	}
}
