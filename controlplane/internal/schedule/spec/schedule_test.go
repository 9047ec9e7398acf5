package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestInterval(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2026, 1, 1, 0, 7, 0, 0, time.UTC)
	s, err := NewInterval(15*time.Minute, anchor, "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after time.Time
		want  time.Time
	}{
		{anchor.Add(-time.Nanosecond), anchor},
		{anchor, anchor.Add(15 * time.Minute)},
		{anchor.Add(time.Minute), anchor.Add(15 * time.Minute)},
		// The anchor fixes the phase; fires before it keep that phase.
		{anchor.Add(-15 * time.Minute), anchor},
		{anchor.Add(-16 * time.Minute), anchor.Add(-15 * time.Minute)},
		{anchor.AddDate(-3, 0, 0).Add(time.Second), anchor.AddDate(-3, 0, 0).Add(15 * time.Minute)},
		{anchor.AddDate(0, 6, 0), anchor.AddDate(0, 6, 0).Add(15 * time.Minute)},
	}
	for _, tt := range tests {
		got, ok := s.Next(tt.after)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("Next(%s) = %s, %v; want %s", tt.after, got, ok, tt.want)
		}
	}

	// An interval that does not divide a day drifts across local midnight and
	// keeps its spacing across a daylight-saving change.
	s, err = NewInterval(7*time.Hour, time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Between(time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), 100)
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d != 7*time.Hour {
			t.Errorf("gap %d = %s, want 7h", i, d)
		}
	}
	if len(got) != 6 {
		t.Errorf("got %d fires in 48h, want 6", len(got))
	}
}

func TestParseIntervalForms(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, expr := range []string{"15m", "every 15m", " Every 15m0s "} {
		s, err := Parse(Spec{Kind: KindInterval, Expr: expr, Anchor: anchor})
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		if got, _ := s.Next(anchor); !got.Equal(anchor.Add(15 * time.Minute)) {
			t.Errorf("Parse(%q).Next(anchor) = %s", expr, got)
		}
	}
	bad := []struct {
		spec    Spec
		field   string
		problem string
	}{
		{Spec{Kind: KindInterval, Every: 0, Anchor: anchor}, "interval", "at least 1s"},
		{Spec{Kind: KindInterval, Every: -time.Minute, Anchor: anchor}, "interval", "at least 1s"},
		{Spec{Kind: KindInterval, Every: 500 * time.Millisecond, Anchor: anchor}, "interval", "at least 1s"},
		{Spec{Kind: KindInterval, Expr: "fortnightly", Anchor: anchor}, "interval", "not a duration"},
		{Spec{Kind: KindInterval, Every: time.Minute}, "anchor", "required"},
		{Spec{Kind: KindInterval, Every: time.Minute, Anchor: anchor, Zone: "Nowhere/Land"}, "zone", "unknown IANA time zone"},
		{Spec{Kind: "calendar"}, "kind", "want cron, interval or rrule"},
	}
	for _, tt := range bad {
		_, err := Parse(tt.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
			t.Errorf("Parse(%+v) error = %v, want field %q with %q", tt.spec, err, tt.field, tt.problem)
		}
	}
}

func TestZeroScheduleNeverFires(t *testing.T) {
	t.Parallel()
	var s Schedule
	if got, ok := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Errorf("zero Schedule Next = %s, want none", got)
	}
	if got := s.Preview(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3); len(got) != 0 {
		t.Errorf("zero Schedule Preview = %v, want none", got)
	}
}

func TestPreviewMarksTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		from string
		n    int
		want []Fire
	}{
		{"gap", Spec{Kind: KindCron, Expr: "30 2 * * *", Zone: "America/New_York"}, "2026-03-07 12:00 -05:00", 2, []Fire{
			{Time: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), Local: "2026-03-08 03:00:00 -04:00 EDT",
				DST: "gap: 02:30 does not exist, fired at 03:00"},
			{Time: time.Date(2026, 3, 9, 6, 30, 0, 0, time.UTC), Local: "2026-03-09 02:30:00 -04:00 EDT"},
		}},
		{"fold", Spec{Kind: KindCron, Expr: "30 1 * * *", Zone: "America/New_York"}, "2026-10-31 12:00 -04:00", 2, []Fire{
			{Time: time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), Local: "2026-11-01 01:30:00 -04:00 EDT",
				DST: "fold: 01:30 occurs twice, fired once at the first"},
			{Time: time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC), Local: "2026-11-02 01:30:00 -05:00 EST",
				DST: "offset changed from -04:00 to -05:00 since the previous fire"},
		}},
		{"sub-hourly fold", Spec{Kind: KindCron, Expr: "*/30 * * * *", Zone: "Europe/Berlin"}, "2026-10-25 02:10 +02:00", 4, []Fire{
			{Time: time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), Local: "2026-10-25 02:30:00 +02:00 CEST",
				DST: "fold: 02:30 occurs twice, fired at both by elapsed time; this is the first"},
			{Time: time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), Local: "2026-10-25 02:00:00 +01:00 CET",
				DST: "fold: 02:00 occurs twice, fired at both by elapsed time; this is the second"},
			{Time: time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), Local: "2026-10-25 02:30:00 +01:00 CET",
				DST: "fold: 02:30 occurs twice, fired at both by elapsed time; this is the second"},
			{Time: time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), Local: "2026-10-25 03:00:00 +01:00 CET"},
		}},
		{"sub-hourly gap", Spec{Kind: KindCron, Expr: "*/15 2 * * *", Zone: "Europe/Berlin"}, "2026-03-29 00:00 +01:00", 2, []Fire{
			{Time: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), Local: "2026-03-29 03:00:00 +02:00 CEST",
				DST: "gap: 02:00 to 02:45 do not exist, fired once at 03:00"},
			{Time: time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), Local: "2026-03-30 02:00:00 +02:00 CEST"},
		}},
		{"half-hour zone", Spec{Kind: KindCron, Expr: "0 * * * *", Zone: "Australia/Lord_Howe"}, "2026-10-04 01:30 +10:30", 2, []Fire{
			{Time: time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC), Local: "2026-10-04 02:30:00 +11:00",
				DST: "gap: 02:00 does not exist, fired at 02:30"},
			{Time: time.Date(2026, 10, 3, 16, 0, 0, 0, time.UTC), Local: "2026-10-04 03:00:00 +11:00"},
		}},
		{"interval", Spec{Kind: KindInterval, Every: time.Hour, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Zone: "America/New_York"}, "2026-03-08 00:30 -05:00", 3, []Fire{
			{Time: time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), Local: "2026-03-08 01:00:00 -05:00 EST"},
			{Time: time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), Local: "2026-03-08 03:00:00 -04:00 EDT",
				DST: "offset changed from -05:00 to -04:00 since the previous fire"},
			{Time: time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC), Local: "2026-03-08 04:00:00 -04:00 EDT"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Preview(at(t, tt.from), tt.n)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Preview (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBetweenLimits(t *testing.T) {
	t.Parallel()
	s, err := ParseCron("*/10 * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	if got := s.Between(from, to, 100); len(got) != 6 || !got[0].Equal(from.Add(10*time.Minute)) || !got[5].Equal(to) {
		t.Errorf("Between(from, to] = %v, want 00:10 to 01:00", got)
	}
	if got := s.Between(from, to, 2); len(got) != 2 {
		t.Errorf("Between with max 2 = %v", got)
	}
	if got := s.Between(from, to, 0); got != nil {
		t.Errorf("Between with max 0 = %v, want nil", got)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	const max = time.Hour
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var low, high, differ int
	for i := range 1000 {
		nominal := base.Add(time.Duration(i) * 15 * time.Minute)
		j := Jitter(nominal, "sched-a", max)
		if again := Jitter(nominal.In(time.FixedZone("elsewhere", 3600)), "sched-a", max); again != j {
			t.Fatalf("Jitter not deterministic at %s: %s then %s", nominal, j, again)
		}
		if j < 0 || j >= max {
			t.Fatalf("Jitter(%s) = %s, outside [0, %s)", nominal, j, max)
		}
		if j%time.Microsecond != 0 {
			t.Fatalf("Jitter(%s) = %s, not whole microseconds", nominal, j)
		}
		if j < max/2 {
			low++
		} else {
			high++
		}
		if Jitter(nominal, "sched-b", max) != j {
			differ++
		}
	}
	if low < 400 || high < 400 {
		t.Errorf("jitter halves: %d below and %d above the middle, want both near 500", low, high)
	}
	if differ < 990 {
		t.Errorf("only %d of 1000 fires got a different delay for another schedule", differ)
	}
	for _, m := range []time.Duration{0, -time.Second, time.Nanosecond} {
		if j := Jitter(base, "sched-a", m); j != 0 {
			t.Errorf("Jitter with max %s = %s, want 0", m, j)
		}
	}
}

func TestMinInterval(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	anchor := from
	tests := []struct {
		name string
		spec Spec
		want time.Duration
	}{
		{"every five minutes", Spec{Kind: KindCron, Expr: "*/5 * * * *"}, 5 * time.Minute},
		{"hourly", Spec{Kind: KindCron, Expr: "0 * * * *", Zone: "Europe/Berlin"}, time.Hour},
		{"missing 02:00 merges with 03:00", Spec{Kind: KindCron, Expr: "0 2,3 * * *", Zone: "America/New_York"}, time.Hour},
		{"missing 02:30 moves next to 03:30", Spec{Kind: KindCron, Expr: "30 2,3 * * *", Zone: "America/New_York"}, 30 * time.Minute},
		{"half-hour shift", Spec{Kind: KindCron, Expr: "0 * * * *", Zone: "Australia/Lord_Howe"}, 30 * time.Minute},
		{"interval", Spec{Kind: KindInterval, Every: 15 * time.Minute, Anchor: anchor}, 15 * time.Minute},
		{"daily", Spec{Kind: KindCron, Expr: "0 9 * * *", Zone: "Europe/Berlin"}, 23 * time.Hour},
		{"fires once", Spec{Kind: KindRRule, Expr: "FREQ=DAILY;COUNT=1", Anchor: anchor.Add(time.Hour)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := MinInterval(s, from); got != tt.want {
				t.Errorf("MinInterval = %s, want %s", got, tt.want)
			}
		})
	}

	s, err := ParseCron("*/5 * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckMinInterval(s, from, 15*time.Minute)
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Problem, "fires 5m0s apart") || !strings.Contains(fe.Problem, "15m0s") {
		t.Errorf("CheckMinInterval(*/5, 15m) = %v, want a refusal naming both intervals", err)
	}
	if err := CheckMinInterval(s, from, 5*time.Minute); err != nil {
		t.Errorf("CheckMinInterval(*/5, 5m) = %v, want nil", err)
	}
}

func TestLoadZone(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "UTC", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"} {
		if _, err := LoadZone(name); err != nil {
			t.Errorf("LoadZone(%q) = %v", name, err)
		}
	}
}
