package zic

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
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
