package zic

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// committedData is the copy of tzdata.zi the example ships with.
const committedData = "../../data/tzdata.zi"

// systemZoneinfo is where Debian's tzdata package installs the compiled zones.
const systemZoneinfo = "/usr/share/zoneinfo"

func loadCommitted(t *testing.T) *Database {
	t.Helper()
	f, err := os.Open(committedData)
	if err != nil {
		t.Fatalf("open committed data: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	db, errs, err := Parse(f)
	if err != nil {
		t.Fatalf("parse committed data: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("committed data has malformed lines: %v", errs)
	}
	return db
}

// requireSameRelease skips the test unless the machine's compiled zones come
// from the same tz release as the committed copy: only then must they agree.
func requireSameRelease(t *testing.T, db *Database) {
	t.Helper()
	f, err := os.Open(filepath.Join(systemZoneinfo, "tzdata.zi"))
	if err != nil {
		t.Skipf("no system tz database to compare with: %v", err)
	}
	defer f.Close()
	first, _ := bufio.NewReader(f).ReadString('\n')
	if v := strings.TrimSpace(strings.TrimPrefix(first, "# version ")); v != db.Version {
		t.Skipf("system tz database is release %q, committed copy is %q", v, db.Version)
	}
}

// observed is what Go's time package says about one instant.
type observed struct {
	offset int
	abbrev string
	isDST  bool
}

func goObserved(at time.Time, loc *time.Location) observed {
	lt := at.In(loc)
	name, off := lt.Zone()
	return observed{offset: off, abbrev: name, isDST: lt.IsDST()}
}

func ourObserved(o Offset) observed {
	return observed{offset: int(o.UTCOffset / time.Second), abbrev: o.Abbrev, isDST: o.IsDST}
}

// offsetIn finds the offset in effect at t among sorted periods.
func offsetIn(ps []Period, t time.Time) Offset {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].Start.After(t) })
	return ps[i-1].Offset
}

// TestPeriodsMatchCompiledZones checks every zone and link, from 1970 to 2100,
// against the zones zic compiled from the same release (read by Go's time
// package): at each of our changes and just before it, at each of Go's changes,
// and at the start and middle of every year.
func TestPeriodsMatchCompiledZones(t *testing.T) {
	t.Parallel()
	db := loadCommitted(t)
	requireSameRelease(t, db)
	from := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)

	var names []string
	for name := range db.Zones {
		names = append(names, name)
	}
	for name := range db.Links {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) < 500 {
		t.Fatalf("only %d zones and links parsed, want the whole database", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Fatalf("load compiled zone: %v", err)
			}
			ps, err := db.Periods(name, from, to)
			if err != nil {
				t.Fatalf("Periods: %v", err)
			}

			var instants []time.Time
			for _, p := range ps[1:] {
				instants = append(instants, p.Start.Add(-time.Second), p.Start)
			}
			for at := from; at.Before(to); {
				_, end := at.In(loc).ZoneBounds()
				if end.IsZero() || !end.Before(to) {
					break
				}
				if !end.After(at) {
					// Go 1.26's ZoneBounds can report an end that is not after
					// the instant near the end of a leap year past 2037; step
					// over it.
					at = at.Add(time.Hour)
					continue
				}
				instants = append(instants, end.Add(-time.Second), end)
				at = end
			}
			for y := 1970; y <= 2100; y++ {
				instants = append(instants,
					time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC),
					time.Date(y, 7, 2, 12, 0, 0, 0, time.UTC))
			}
			mismatches := 0
			for _, at := range instants {
				got, want := ourObserved(offsetIn(ps, at)), goObserved(at, loc)
				if got != want {
					t.Errorf("at %s: got %+v, compiled zone says %+v", at.Format(time.RFC3339), got, want)
					if mismatches++; mismatches == 5 {
						t.FailNow()
					}
				}
			}
		})
	}
}

// TestOffsetAt checks known offsets in the committed data without relying on
// the machine's compiled zones, so it runs everywhere.
func TestOffsetAt(t *testing.T) {
	t.Parallel()
	db := loadCommitted(t)
	h := time.Hour
	winter := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	summer := time.Date(2025, 7, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		zone string
		at   time.Time
		want Offset
	}{
		{"Europe/Berlin", winter, Offset{UTCOffset: h, StdOffset: h, Abbrev: "CET"}},
		{"Europe/Berlin", summer, Offset{UTCOffset: 2 * h, StdOffset: h, Save: h, IsDST: true, Abbrev: "CEST"}},
		{"Europe/Dublin", winter, Offset{StdOffset: h, Save: -h, IsDST: true, Abbrev: "GMT"}},
		{"Europe/Dublin", summer, Offset{UTCOffset: h, StdOffset: h, Abbrev: "IST"}},
		{"Australia/Lord_Howe", winter, Offset{UTCOffset: 11 * h, StdOffset: 10*h + 30*time.Minute, Save: 30 * time.Minute, IsDST: true, Abbrev: "+11"}},
		{"Asia/Kolkata", summer, Offset{UTCOffset: 5*h + 30*time.Minute, StdOffset: 5*h + 30*time.Minute, Abbrev: "IST"}},
		{"US/Eastern", summer, Offset{UTCOffset: -4 * h, StdOffset: -5 * h, Save: h, IsDST: true, Abbrev: "EDT"}},
		// The last second of EDT in 2025 and the first of EST.
		{"America/New_York", time.Date(2025, 11, 2, 5, 59, 59, 0, time.UTC), Offset{UTCOffset: -4 * h, StdOffset: -5 * h, Save: h, IsDST: true, Abbrev: "EDT"}},
		{"America/New_York", time.Date(2025, 11, 2, 6, 0, 0, 0, time.UTC), Offset{UTCOffset: -5 * h, StdOffset: -5 * h, Abbrev: "EST"}},
	}
	for _, tt := range tests {
		t.Run(tt.zone+"@"+tt.at.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			got, err := db.OffsetAt(tt.zone, tt.at)
			if err != nil {
				t.Fatalf("OffsetAt: %v", err)
			}
			if got != tt.want {
				t.Errorf("OffsetAt(%s, %s) = %+v, want %+v", tt.zone, tt.at, got, tt.want)
			}
		})
	}
	if _, err := db.OffsetAt("Mars/Olympus_Mons", winter); !errors.Is(err, ErrUnknownZone) {
		t.Errorf("unknown zone error = %v, want ErrUnknownZone", err)
	}
}

// TestUntilFoldsCoincidingRule checks zic's folding of a rule that coincides
// with a zone line's end on a different standard offset (America/Sitka, 1983).
func TestUntilFoldsCoincidingRule(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		"R U 1967 2006 - O lastSu 2 0 S",
		"R U 1976 1986 - Ap lastSu 2 1 D",
		"Z Test/Sitka -8 U P%sT 1983 O 30 2",
		"-9 U Y%sT 1983 N 30",
		"-9 - AKST",
	}, "\n")
	db, errs, err := Parse(strings.NewReader(input))
	if err != nil || len(errs) > 0 {
		t.Fatalf("Parse: %v %v", err, errs)
	}
	from := time.Date(1983, 10, 30, 8, 0, 0, 0, time.UTC)
	ps, err := db.Periods("Test/Sitka", from, from.Add(48*time.Hour))
	if err != nil {
		t.Fatalf("Periods: %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Start.Format(time.RFC3339)+" "+p.Abbrev)
	}
	want := []string{"1983-04-24T10:00:00Z PDT", "1983-10-30T09:00:00Z YST"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("periods mismatch (-want +got):\n%s", diff)
	}
}
