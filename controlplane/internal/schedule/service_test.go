package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestApplyRefusesBadDefinitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		def         Definition
		minInterval time.Duration
		field       string
		reason      string
	}{
		{"bad cron", Definition{Kind: KindCron, Expression: "61 * * * *"}, 0, "spec.expression", "cron minute"},
		{"cron with too few fields", Definition{Kind: KindCron, Expression: "* * *"}, 0, "spec.expression", ""},
		{"unknown zone", Definition{Kind: KindCron, Expression: "0 3 * * *", Zone: "Mars/Olympus_Mons"}, 0, "spec.zone", "unknown IANA time zone"},
		{"missing expression", Definition{Kind: KindCron}, 0, "spec.expression", "required"},
		{"no kind", Definition{Expression: "0 3 * * *"}, 0, "spec.kind", ""},
		{"interval too short", Definition{Kind: KindInterval, Interval: 30 * time.Second}, 0, "spec.interval", "minimum interval"},
		{"interval with fractions", Definition{Kind: KindInterval, Interval: 90500 * time.Millisecond}, 0, "spec.interval", "whole number of seconds"},
		{"interval missing", Definition{Kind: KindInterval}, 0, "spec.interval", "required"},
		{"bad rrule", Definition{Kind: KindRRule, Expression: "FREQ=FORTNIGHTLY"}, 0, "spec.expression", "FREQ"},
		{"cron above the configured minimum", Definition{Kind: KindCron, Expression: "*/2 * * * *"}, 5 * time.Minute, "spec.expression", "minimum interval"},
		{"rrule above the minimum", Definition{Kind: KindRRule, Expression: "FREQ=MINUTELY;INTERVAL=1"}, 2 * time.Minute, "spec.expression", "minimum interval"},
		{"parameters refused by the schema", Definition{Kind: KindCron, Expression: "0 3 * * *", Parameters: `{"day":5}`}, 0, "spec.parameters", ""},
		{"anchor on cron", Definition{Kind: KindCron, Expression: "0 3 * * *", Anchor: utc(2025, 1, 1, 0, 0, 0)}, 0, "spec.anchor_time", ""},
		{"catch-up cap without all", Definition{Kind: KindCron, Expression: "0 3 * * *", CatchUp: CatchUpLatest, CatchUpLimit: 3}, 0, "spec.catch_up_limit", ""},
		{"catch-up cap too large", Definition{Kind: KindCron, Expression: "0 3 * * *", CatchUp: CatchUpAll, CatchUpLimit: 5000}, 0, "spec.catch_up_limit", ""},
		{"jitter too large", Definition{Kind: KindCron, Expression: "0 3 * * *", Jitter: 48 * time.Hour}, 0, "spec.jitter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, utc(2025, 3, 1, 12, 0, 30))
			b.svc.MinInterval = tt.minInterval
			_, err := b.svc.Apply(context.Background(), b.ws, testActor, b.depName, "s", tt.def)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Apply: %v; want a *FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("Apply: field %q reason %q; want field %q with %q", fe.Field, fe.Reason, tt.field, tt.reason)
			}
			list, err := b.svc.List(context.Background(), b.ws, "", nil, 0)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(list) != 0 {
				t.Errorf("a refused apply stored %d schedules", len(list))
			}
		})
	}
}

func TestApplyUnknownDeployment(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	_, err := b.svc.Apply(context.Background(), b.ws, testActor, "nope", "s", hourly())
	if !errors.Is(err, ErrDeploymentNotFound) {
		t.Errorf("Apply: %v; want ErrDeploymentNotFound", err)
	}
	_, err = b.svc.Backfill(context.Background(), b.ws, testActor, b.depName, "missing",
		utc(2025, 3, 1, 0, 0, 0), utc(2025, 3, 1, 1, 0, 0), 0)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Backfill: %v; want ErrNotFound", err)
	}
}

func TestBackfillIsBoundedAndIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 1, 12, 0, 30))
	sc := b.apply(t, "hourly", hourly()).Schedule
	ctx := context.Background()
	backfill := func(start, end time.Time, max int) (BackfillResult, error) {
		return b.svc.Backfill(ctx, b.ws, testActor, b.depName, "hourly", start, end, max)
	}

	got, err := backfill(utc(2025, 3, 1, 6, 0, 0), utc(2025, 3, 1, 9, 0, 0), 0)
	if err != nil {
		t.Fatalf("Backfill: %v", err)
	}
	want := BackfillResult{
		NominalTimes: []time.Time{utc(2025, 3, 1, 6, 0, 0), utc(2025, 3, 1, 7, 0, 0), utc(2025, 3, 1, 8, 0, 0), utc(2025, 3, 1, 9, 0, 0)},
		Created:      4,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("first backfill (-want +got):\n%s", diff)
	}

	// Again, and overlapping: only the new fire times get runs.
	if got, err = backfill(utc(2025, 3, 1, 6, 0, 0), utc(2025, 3, 1, 9, 0, 0), 0); err != nil || got.Created != 0 {
		t.Fatalf("repeated backfill: created %d, %v; want 0", got.Created, err)
	}
	if got, err = backfill(utc(2025, 3, 1, 8, 30, 0), utc(2025, 3, 1, 11, 0, 0), 0); err != nil || got.Created != 2 || len(got.NominalTimes) != 3 {
		t.Fatalf("overlapping backfill: %+v, %v; want 3 fire times and 2 created", got, err)
	}
	if n := len(b.runsOf(t, sc.ID)); n != 6 {
		t.Errorf("%d runs, want 6", n)
	}

	refusals := []struct {
		name       string
		start, end time.Time
		max        int
		field      string
	}{
		{"more fire times than the cap", utc(2025, 2, 1, 0, 0, 0), utc(2025, 3, 1, 0, 0, 0), 10, "end"},
		{"end in the future", utc(2025, 3, 1, 0, 0, 0), utc(2025, 3, 1, 13, 0, 0), 0, "end"},
		{"end before start", utc(2025, 3, 1, 5, 0, 0), utc(2025, 3, 1, 4, 0, 0), 0, "end"},
		{"cap too large", utc(2025, 3, 1, 0, 0, 0), utc(2025, 3, 1, 1, 0, 0), 5000, "max_runs"},
	}
	for _, r := range refusals {
		_, err := backfill(r.start, r.end, r.max)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != r.field {
			t.Errorf("%s: %v; want a *FieldError on %s", r.name, err, r.field)
		}
	}
	if n := len(b.runsOf(t, sc.ID)); n != 6 {
		t.Errorf("%d runs after refused backfills, want 6", n)
	}
}

func TestPreviewMarksDaylightSaving(t *testing.T) {
	t.Parallel()
	b := setup(t, utc(2025, 3, 28, 12, 0, 0))
	def := Definition{Kind: KindCron, Expression: "30 2 * * *", Zone: "Europe/Berlin", Active: true}
	p, err := b.svc.PreviewDefinition(def, b.clock.Now(), 3)
	if err != nil {
		t.Fatalf("PreviewDefinition: %v", err)
	}
	if p.Zone != "Europe/Berlin" || len(p.Fires) != 3 {
		t.Fatalf("preview %+v: want 3 fire times in Europe/Berlin", p)
	}
	if got, want := p.Fires[1].Time, utc(2025, 3, 30, 1, 0, 0); !got.Equal(want) {
		t.Errorf("second fire at %v, want %v", got, want)
	}
	if p.Fires[0].DST != "" || !strings.Contains(p.Fires[1].DST, "02:30") {
		t.Errorf("DST notes %q and %q: want none, then one about 02:30", p.Fires[0].DST, p.Fires[1].DST)
	}

	b.apply(t, "night", def)
	stored, err := b.svc.PreviewStored(context.Background(), b.ws, b.depName, "night", b.clock.Now(), 3)
	if err != nil {
		t.Fatalf("PreviewStored: %v", err)
	}
	if diff := cmp.Diff(p, stored); diff != "" {
		t.Errorf("stored preview differs from the definition's (-def +stored):\n%s", diff)
	}
}
