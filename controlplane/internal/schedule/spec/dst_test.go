package spec

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// localLayout is how tests write instants: a local reading with its offset.
const localLayout = "2006-01-02 15:04 -07:00"

// at parses an instant written in localLayout.
func at(t *testing.T, text string) time.Time {
	t.Helper()
	v, err := time.Parse(localLayout, text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return v.UTC()
}

// show formats instants in a zone in localLayout, so diffs read like the
// tables.
func show(t *testing.T, zone string, times []time.Time) []string {
	t.Helper()
	loc, err := LoadZone(zone)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(times))
	for _, v := range times {
		out = append(out, v.In(loc).Format(localLayout))
	}
	return out
}

// dstCase is one schedule stepped across one daylight-saving change.
type dstCase struct {
	name     string
	zone     string
	cron     string
	from, to string
	want     []string
}

// fifteen marks a case whose fires are every 15 minutes of elapsed time, so
// an interval and a FREQ=MINUTELY rule must give the same instants.
const fifteen = "*/15 * * * *"

var dstCases = []dstCase{
	// America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
	{"new_york spring daily 02:30", "America/New_York", "30 2 * * *", "2026-03-07 00:00 -05:00", "2026-03-09 23:00 -04:00",
		[]string{"2026-03-07 02:30 -05:00", "2026-03-08 03:00 -04:00", "2026-03-09 02:30 -04:00"}},
	{"new_york spring daily 01:30", "America/New_York", "30 1 * * *", "2026-03-07 00:00 -05:00", "2026-03-09 23:00 -04:00",
		[]string{"2026-03-07 01:30 -05:00", "2026-03-08 01:30 -05:00", "2026-03-09 01:30 -04:00"}},
	{"new_york spring hourly", "America/New_York", "0 * * * *", "2026-03-08 00:30 -05:00", "2026-03-08 04:30 -04:00",
		[]string{"2026-03-08 01:00 -05:00", "2026-03-08 03:00 -04:00", "2026-03-08 04:00 -04:00"}},
	{"new_york spring every 15m", "America/New_York", fifteen, "2026-03-08 01:20 -05:00", "2026-03-08 03:20 -04:00",
		[]string{"2026-03-08 01:30 -05:00", "2026-03-08 01:45 -05:00", "2026-03-08 03:00 -04:00", "2026-03-08 03:15 -04:00"}},
	{"new_york fall daily 01:30", "America/New_York", "30 1 * * *", "2026-10-31 00:00 -04:00", "2026-11-02 23:00 -05:00",
		[]string{"2026-10-31 01:30 -04:00", "2026-11-01 01:30 -04:00", "2026-11-02 01:30 -05:00"}},
	{"new_york fall daily 02:30", "America/New_York", "30 2 * * *", "2026-10-31 00:00 -04:00", "2026-11-02 23:00 -05:00",
		[]string{"2026-10-31 02:30 -04:00", "2026-11-01 02:30 -05:00", "2026-11-02 02:30 -05:00"}},
	{"new_york fall hourly", "America/New_York", "0 * * * *", "2026-11-01 00:30 -04:00", "2026-11-01 03:30 -05:00",
		[]string{"2026-11-01 01:00 -04:00", "2026-11-01 02:00 -05:00", "2026-11-01 03:00 -05:00"}},
	{"new_york fall every 15m", "America/New_York", fifteen, "2026-11-01 01:20 -04:00", "2026-11-01 02:20 -05:00",
		[]string{"2026-11-01 01:30 -04:00", "2026-11-01 01:45 -04:00", "2026-11-01 01:00 -05:00", "2026-11-01 01:15 -05:00",
			"2026-11-01 01:30 -05:00", "2026-11-01 01:45 -05:00", "2026-11-01 02:00 -05:00", "2026-11-01 02:15 -05:00"}},

	// Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
	{"berlin spring daily 02:30", "Europe/Berlin", "30 2 * * *", "2026-03-28 00:00 +01:00", "2026-03-30 23:00 +02:00",
		[]string{"2026-03-28 02:30 +01:00", "2026-03-29 03:00 +02:00", "2026-03-30 02:30 +02:00"}},
	{"berlin spring daily 01:30", "Europe/Berlin", "30 1 * * *", "2026-03-28 00:00 +01:00", "2026-03-30 23:00 +02:00",
		[]string{"2026-03-28 01:30 +01:00", "2026-03-29 01:30 +01:00", "2026-03-30 01:30 +02:00"}},
	{"berlin spring hourly", "Europe/Berlin", "0 * * * *", "2026-03-29 00:30 +01:00", "2026-03-29 04:30 +02:00",
		[]string{"2026-03-29 01:00 +01:00", "2026-03-29 03:00 +02:00", "2026-03-29 04:00 +02:00"}},
	{"berlin spring every 15m", "Europe/Berlin", fifteen, "2026-03-29 01:20 +01:00", "2026-03-29 03:20 +02:00",
		[]string{"2026-03-29 01:30 +01:00", "2026-03-29 01:45 +01:00", "2026-03-29 03:00 +02:00", "2026-03-29 03:15 +02:00"}},
	{"berlin fall daily 02:30", "Europe/Berlin", "30 2 * * *", "2026-10-24 00:00 +02:00", "2026-10-26 23:00 +01:00",
		[]string{"2026-10-24 02:30 +02:00", "2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00"}},
	{"berlin fall daily 01:30", "Europe/Berlin", "30 1 * * *", "2026-10-24 00:00 +02:00", "2026-10-26 23:00 +01:00",
		[]string{"2026-10-24 01:30 +02:00", "2026-10-25 01:30 +02:00", "2026-10-26 01:30 +01:00"}},
	{"berlin fall hourly", "Europe/Berlin", "0 * * * *", "2026-10-25 01:30 +02:00", "2026-10-25 04:30 +01:00",
		[]string{"2026-10-25 02:00 +02:00", "2026-10-25 03:00 +01:00", "2026-10-25 04:00 +01:00"}},
	{"berlin fall every 15m", "Europe/Berlin", fifteen, "2026-10-25 02:20 +02:00", "2026-10-25 03:20 +01:00",
		[]string{"2026-10-25 02:30 +02:00", "2026-10-25 02:45 +02:00", "2026-10-25 02:00 +01:00", "2026-10-25 02:15 +01:00",
			"2026-10-25 02:30 +01:00", "2026-10-25 02:45 +01:00", "2026-10-25 03:00 +01:00", "2026-10-25 03:15 +01:00"}},

	// Australia/Sydney: 2026-04-05 03:00 AEDT -> 02:00 AEST; 2026-10-04 02:00 AEST -> 03:00 AEDT.
	{"sydney fall daily 02:30", "Australia/Sydney", "30 2 * * *", "2026-04-04 00:00 +11:00", "2026-04-06 23:00 +10:00",
		[]string{"2026-04-04 02:30 +11:00", "2026-04-05 02:30 +11:00", "2026-04-06 02:30 +10:00"}},
	{"sydney fall daily 01:30", "Australia/Sydney", "30 1 * * *", "2026-04-04 00:00 +11:00", "2026-04-06 23:00 +10:00",
		[]string{"2026-04-04 01:30 +11:00", "2026-04-05 01:30 +11:00", "2026-04-06 01:30 +10:00"}},
	{"sydney fall hourly", "Australia/Sydney", "0 * * * *", "2026-04-05 01:30 +11:00", "2026-04-05 04:30 +10:00",
		[]string{"2026-04-05 02:00 +11:00", "2026-04-05 03:00 +10:00", "2026-04-05 04:00 +10:00"}},
	{"sydney fall every 15m", "Australia/Sydney", fifteen, "2026-04-05 02:20 +11:00", "2026-04-05 03:20 +10:00",
		[]string{"2026-04-05 02:30 +11:00", "2026-04-05 02:45 +11:00", "2026-04-05 02:00 +10:00", "2026-04-05 02:15 +10:00",
			"2026-04-05 02:30 +10:00", "2026-04-05 02:45 +10:00", "2026-04-05 03:00 +10:00", "2026-04-05 03:15 +10:00"}},
	{"sydney spring daily 02:30", "Australia/Sydney", "30 2 * * *", "2026-10-03 00:00 +10:00", "2026-10-05 23:00 +11:00",
		[]string{"2026-10-03 02:30 +10:00", "2026-10-04 03:00 +11:00", "2026-10-05 02:30 +11:00"}},
	{"sydney spring daily 01:30", "Australia/Sydney", "30 1 * * *", "2026-10-03 00:00 +10:00", "2026-10-05 23:00 +11:00",
		[]string{"2026-10-03 01:30 +10:00", "2026-10-04 01:30 +10:00", "2026-10-05 01:30 +11:00"}},
	{"sydney spring hourly", "Australia/Sydney", "0 * * * *", "2026-10-04 00:30 +10:00", "2026-10-04 04:30 +11:00",
		[]string{"2026-10-04 01:00 +10:00", "2026-10-04 03:00 +11:00", "2026-10-04 04:00 +11:00"}},
	{"sydney spring every 15m", "Australia/Sydney", fifteen, "2026-10-04 01:20 +10:00", "2026-10-04 03:20 +11:00",
		[]string{"2026-10-04 01:30 +10:00", "2026-10-04 01:45 +10:00", "2026-10-04 03:00 +11:00", "2026-10-04 03:15 +11:00"}},

	// America/Santiago changes at midnight: 2026-04-04 24:00 -03 -> 23:00 -04;
	// 2026-09-06 00:00 -04 -> 01:00 -03.
	{"santiago fall daily 02:30", "America/Santiago", "30 2 * * *", "2026-04-04 00:00 -03:00", "2026-04-06 23:00 -04:00",
		[]string{"2026-04-04 02:30 -03:00", "2026-04-05 02:30 -04:00", "2026-04-06 02:30 -04:00"}},
	{"santiago fall daily 01:30", "America/Santiago", "30 1 * * *", "2026-04-04 00:00 -03:00", "2026-04-06 23:00 -04:00",
		[]string{"2026-04-04 01:30 -03:00", "2026-04-05 01:30 -04:00", "2026-04-06 01:30 -04:00"}},
	{"santiago fall daily 23:30", "America/Santiago", "30 23 * * *", "2026-04-03 00:00 -03:00", "2026-04-05 23:59 -04:00",
		[]string{"2026-04-03 23:30 -03:00", "2026-04-04 23:30 -03:00", "2026-04-05 23:30 -04:00"}},
	{"santiago fall hourly", "America/Santiago", "0 * * * *", "2026-04-04 22:30 -03:00", "2026-04-05 01:30 -04:00",
		[]string{"2026-04-04 23:00 -03:00", "2026-04-05 00:00 -04:00", "2026-04-05 01:00 -04:00"}},
	{"santiago fall every 15m", "America/Santiago", fifteen, "2026-04-04 23:20 -03:00", "2026-04-05 00:20 -04:00",
		[]string{"2026-04-04 23:30 -03:00", "2026-04-04 23:45 -03:00", "2026-04-04 23:00 -04:00", "2026-04-04 23:15 -04:00",
			"2026-04-04 23:30 -04:00", "2026-04-04 23:45 -04:00", "2026-04-05 00:00 -04:00", "2026-04-05 00:15 -04:00"}},
	{"santiago spring daily 02:30", "America/Santiago", "30 2 * * *", "2026-09-05 00:00 -04:00", "2026-09-07 23:00 -03:00",
		[]string{"2026-09-05 02:30 -04:00", "2026-09-06 02:30 -03:00", "2026-09-07 02:30 -03:00"}},
	{"santiago spring daily 01:30", "America/Santiago", "30 1 * * *", "2026-09-05 00:00 -04:00", "2026-09-07 23:00 -03:00",
		[]string{"2026-09-05 01:30 -04:00", "2026-09-06 01:30 -03:00", "2026-09-07 01:30 -03:00"}},
	{"santiago spring daily midnight", "America/Santiago", "@daily", "2026-09-04 12:00 -04:00", "2026-09-07 12:00 -03:00",
		[]string{"2026-09-05 00:00 -04:00", "2026-09-06 01:00 -03:00", "2026-09-07 00:00 -03:00"}},
	{"santiago spring daily 00:30", "America/Santiago", "30 0 * * *", "2026-09-04 12:00 -04:00", "2026-09-07 12:00 -03:00",
		[]string{"2026-09-05 00:30 -04:00", "2026-09-06 01:00 -03:00", "2026-09-07 00:30 -03:00"}},
	{"santiago spring hourly", "America/Santiago", "0 * * * *", "2026-09-05 22:30 -04:00", "2026-09-06 02:30 -03:00",
		[]string{"2026-09-05 23:00 -04:00", "2026-09-06 01:00 -03:00", "2026-09-06 02:00 -03:00"}},
	{"santiago spring every 15m", "America/Santiago", fifteen, "2026-09-05 23:20 -04:00", "2026-09-06 01:20 -03:00",
		[]string{"2026-09-05 23:30 -04:00", "2026-09-05 23:45 -04:00", "2026-09-06 01:00 -03:00", "2026-09-06 01:15 -03:00"}},

	// Australia/Lord_Howe shifts by 30 minutes: 2026-04-05 02:00 +11 -> 01:30
	// +10:30; 2026-10-04 02:00 +10:30 -> 02:30 +11.
	{"lord_howe fall daily 01:30", "Australia/Lord_Howe", "30 1 * * *", "2026-04-04 00:00 +11:00", "2026-04-06 23:00 +10:30",
		[]string{"2026-04-04 01:30 +11:00", "2026-04-05 01:30 +11:00", "2026-04-06 01:30 +10:30"}},
	{"lord_howe fall daily 01:45", "Australia/Lord_Howe", "45 1 * * *", "2026-04-04 00:00 +11:00", "2026-04-06 23:00 +10:30",
		[]string{"2026-04-04 01:45 +11:00", "2026-04-05 01:45 +11:00", "2026-04-06 01:45 +10:30"}},
	{"lord_howe fall daily 02:30", "Australia/Lord_Howe", "30 2 * * *", "2026-04-04 00:00 +11:00", "2026-04-06 23:00 +10:30",
		[]string{"2026-04-04 02:30 +11:00", "2026-04-05 02:30 +10:30", "2026-04-06 02:30 +10:30"}},
	{"lord_howe fall hourly", "Australia/Lord_Howe", "0 * * * *", "2026-04-05 00:30 +11:00", "2026-04-05 03:30 +10:30",
		[]string{"2026-04-05 01:00 +11:00", "2026-04-05 02:00 +10:30", "2026-04-05 03:00 +10:30"}},
	{"lord_howe fall every 15m", "Australia/Lord_Howe", fifteen, "2026-04-05 01:20 +11:00", "2026-04-05 02:20 +10:30",
		[]string{"2026-04-05 01:30 +11:00", "2026-04-05 01:45 +11:00", "2026-04-05 01:30 +10:30", "2026-04-05 01:45 +10:30",
			"2026-04-05 02:00 +10:30", "2026-04-05 02:15 +10:30"}},
	{"lord_howe spring daily 02:30", "Australia/Lord_Howe", "30 2 * * *", "2026-10-03 00:00 +10:30", "2026-10-05 23:00 +11:00",
		[]string{"2026-10-03 02:30 +10:30", "2026-10-04 02:30 +11:00", "2026-10-05 02:30 +11:00"}},
	{"lord_howe spring daily 02:15", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03 00:00 +10:30", "2026-10-05 23:00 +11:00",
		[]string{"2026-10-03 02:15 +10:30", "2026-10-04 02:30 +11:00", "2026-10-05 02:15 +11:00"}},
	{"lord_howe spring daily 01:30", "Australia/Lord_Howe", "30 1 * * *", "2026-10-03 00:00 +10:30", "2026-10-05 23:00 +11:00",
		[]string{"2026-10-03 01:30 +10:30", "2026-10-04 01:30 +10:30", "2026-10-05 01:30 +11:00"}},
	{"lord_howe spring hourly", "Australia/Lord_Howe", "0 * * * *", "2026-10-04 00:30 +10:30", "2026-10-04 03:30 +11:00",
		[]string{"2026-10-04 01:00 +10:30", "2026-10-04 02:30 +11:00", "2026-10-04 03:00 +11:00"}},
	{"lord_howe spring every 15m", "Australia/Lord_Howe", fifteen, "2026-10-04 01:20 +10:30", "2026-10-04 03:05 +11:00",
		[]string{"2026-10-04 01:30 +10:30", "2026-10-04 01:45 +10:30", "2026-10-04 02:30 +11:00", "2026-10-04 02:45 +11:00",
			"2026-10-04 03:00 +11:00"}},
}

// equivalents returns the specs that must fire exactly like the case's cron
// expression: the cron itself, and the matching rrule (and interval).
func (c dstCase) equivalents(t *testing.T) map[string]Spec {
	t.Helper()
	loc, err := LoadZone(c.zone)
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]Spec{"cron": {Kind: KindCron, Expr: c.cron, Zone: c.zone}}
	localStart := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	switch {
	case c.cron == fifteen:
		specs["interval"] = Spec{Kind: KindInterval, Every: 15 * time.Minute,
			Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Zone: c.zone}
		specs["rrule minutely"] = Spec{Kind: KindRRule, Expr: "FREQ=MINUTELY;INTERVAL=15",
			Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Zone: c.zone}
		specs["rrule hourly"] = Spec{Kind: KindRRule, Expr: "FREQ=HOURLY;BYMINUTE=0,15,30,45",
			Anchor: localStart, Zone: c.zone}
	case c.cron == "0 * * * *":
		specs["rrule"] = Spec{Kind: KindRRule, Expr: "FREQ=HOURLY", Anchor: localStart, Zone: c.zone}
	default:
		var minute, hour int
		if c.cron == "@daily" {
			minute, hour = 0, 0
		} else if _, err := fmt.Sscanf(c.cron, "%d %d * * *", &minute, &hour); err != nil {
			t.Fatalf("daily case %q: %v", c.cron, err)
		}
		specs["rrule"] = Spec{Kind: KindRRule, Expr: "FREQ=DAILY", Anchor: localStart.Add(
			time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute), Zone: c.zone}
	}
	return specs
}

func TestDSTTables(t *testing.T) {
	t.Parallel()
	for _, c := range dstCases {
		for kind, sp := range c.equivalents(t) {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				s, err := Parse(sp)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				from, to := at(t, c.from), at(t, c.to)
				want := make([]time.Time, 0, len(c.want))
				for _, w := range c.want {
					want = append(want, at(t, w))
				}

				// Chained Next calls.
				var got []time.Time
				for cur := from; ; {
					next, ok := s.Next(cur)
					if !ok || next.After(to) {
						break
					}
					got = append(got, next)
					cur = next
				}
				if diff := cmp.Diff(show(t, c.zone, want), show(t, c.zone, got)); diff != "" {
					t.Errorf("chained Next (-want +got):\n%s", diff)
				}

				// A scheduler stepping an injected clock and asking for the
				// fires due since its previous tick.
				for _, step := range []time.Duration{time.Minute, 7 * time.Minute, 20 * time.Minute, time.Hour, 24 * time.Hour} {
					var got []time.Time
					for last := from; last.Before(to); {
						now := last.Add(step)
						if now.After(to) {
							now = to
						}
						got = append(got, s.Between(last, now, 1000)...)
						last = now
					}
					if diff := cmp.Diff(show(t, c.zone, want), show(t, c.zone, got)); diff != "" {
						t.Errorf("clock stepping by %s (-want +got):\n%s", step, diff)
					}
				}

				// Asking from just before and exactly at each fire never skips
				// or repeats one.
				for i, w := range want {
					if next, ok := s.Next(w.Add(-time.Nanosecond)); !ok || !next.Equal(w) {
						t.Errorf("Next(just before %s) = %s, %v", show(t, c.zone, want[i:i+1])[0], next, ok)
					}
					if i+1 < len(want) {
						if next, ok := s.Next(w); !ok || !next.Equal(want[i+1]) {
							t.Errorf("Next(%s) = %s, %v; want %s", show(t, c.zone, want[i:i+1])[0], next, ok,
								show(t, c.zone, want[i+1:i+2])[0])
						}
					}
				}
			})
		}
	}
}

// bruteForce returns the fires of cron pattern p in loc strictly after from
// and not after to, computed the slow way from the package's rules: walk
// every minute of real time, read the wall clock, and apply the gap and fold
// rules to what it shows. It relies on [time.Time.In] alone, not on resolve.
func bruteForce(p *cronPattern, loc *time.Location, from, to time.Time) []time.Time {
	lo, hi := from.Add(-48*time.Hour), to.Add(48*time.Hour)
	var instants []time.Time
	for v := lo.Truncate(time.Minute); !v.After(hi); v = v.Add(time.Minute) {
		instants = append(instants, v)
	}
	shows := func(v time.Time) time.Time {
		lt := v.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC)
	}
	// Where each reading is shown, in order, and where the clock lands after
	// jumping over each reading it skips.
	byReading := make(map[time.Time][]time.Time)
	landsAt := make(map[time.Time]time.Time)
	for i, v := range instants {
		r := shows(v)
		byReading[r] = append(byReading[r], v)
		if i > 0 {
			for skipped := shows(instants[i-1]).Add(time.Minute); skipped.Before(r); skipped = skipped.Add(time.Minute) {
				landsAt[skipped] = v
			}
		}
	}
	seen := make(map[time.Time]bool)
	var fires []time.Time
	add := func(v time.Time) {
		if v.After(from) && !v.After(to) && !seen[v] {
			seen[v] = true
			fires = append(fires, v)
		}
	}
	first, last := shows(lo.Add(24*time.Hour)), shows(hi.Add(-24*time.Hour))
	for r := first; !r.After(last); r = r.Add(time.Minute) {
		if !p.matches(r) {
			continue
		}
		shown := byReading[r]
		switch {
		case len(shown) == 0:
			add(landsAt[r])
		case p.subHourly():
			for _, v := range shown {
				add(v)
			}
		default:
			add(shown[0])
		}
	}
	slices.SortFunc(fires, time.Time.Compare)
	return fires
}

func TestCronMatchesBruteForceAcrossTransitions(t *testing.T) {
	t.Parallel()
	exprs := []string{
		"30 2 * * *", "0 * * * *", "*/15 * * * *", "*/20 * * * *", "0,30 2 * * *",
		"15 2,3 * * *", "* 2 * * *", "0 0 * * *", "30 23 * * *", "*/7 * * * *", "45 1 * * 0",
		"5,35 * * * *", "0 1-3 * * *",
	}
	transitions := []struct{ zone, at string }{
		{"America/New_York", "2026-03-08 07:00 +00:00"},
		{"America/New_York", "2026-11-01 06:00 +00:00"},
		{"Europe/Berlin", "2026-03-29 01:00 +00:00"},
		{"Europe/Berlin", "2026-10-25 01:00 +00:00"},
		{"Australia/Sydney", "2026-04-04 16:00 +00:00"},
		{"Australia/Sydney", "2026-10-03 16:00 +00:00"},
		{"America/Santiago", "2026-04-05 03:00 +00:00"},
		{"America/Santiago", "2026-09-06 04:00 +00:00"},
		{"Australia/Lord_Howe", "2026-04-04 15:00 +00:00"},
		{"Australia/Lord_Howe", "2026-10-03 15:30 +00:00"},
	}
	for _, tr := range transitions {
		for _, expr := range exprs {
			t.Run(tr.zone+" "+tr.at+" "+expr, func(t *testing.T) {
				t.Parallel()
				s, err := ParseCron(expr, tr.zone)
				if err != nil {
					t.Fatal(err)
				}
				center := at(t, tr.at)
				from, to := center.Add(-30*time.Hour), center.Add(30*time.Hour)
				want := bruteForce(s.pat.(*cronPattern), s.Location(), from, to)
				got := s.Between(from, to, 100_000)
				if diff := cmp.Diff(show(t, tr.zone, want), show(t, tr.zone, got)); diff != "" {
					t.Errorf("fires (-brute force +Between):\n%s", diff)
				}
			})
		}
	}
}
