package spec

import (
	"fmt"
	"time"
	// Embedded zone rules: fire times must not depend on whether, or which
	// version of, zoneinfo is installed on the host.
	_ "time/tzdata"
)

// resolveWindow bounds the search for the instants that show a reading. UTC
// offsets in the zone database stay within about ±15 hours, so instants more
// than this far from a reading (taken as UTC) can never show it.
const resolveWindow = 30 * time.Hour

// maxSpansPerLookup bounds how many offset periods one lookup walks. Periods
// last months in every real zone; the bound only stops a corrupt zone from
// looping.
const maxSpansPerLookup = 64

// LoadZone returns the location for an IANA zone name such as
// "Europe/Berlin". The empty name and "UTC" mean UTC. "Local" is refused
// because its meaning depends on the host. Errors are [*FieldError] values
// for the field "zone".
func LoadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, fieldErr("zone", name, "the host's local zone is not allowed; name an IANA zone such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fieldErr("zone", name, "unknown IANA time zone")
	}
	return loc, nil
}

// A reading is a local wall-clock date and time, held as a [time.Time] in UTC
// whose fields are the local fields. Readings compare and step like civil
// times; they are never instants.

// wall returns the reading that instant t shows in loc.
func wall(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// span is a period of a zone during which its UTC offset does not change.
type span struct {
	start  time.Time     // first instant; zero when unbounded in the past
	end    time.Time     // first instant after the span; zero when unbounded
	offset time.Duration // UTC offset during the span
}

// spanAt returns the span of loc that contains instant t.
func spanAt(loc *time.Location, t time.Time) span {
	lt := t.In(loc)
	start, end := lt.ZoneBounds()
	_, off := lt.Zone()
	return span{start: start, end: end, offset: time.Duration(off) * time.Second}
}

// contains reports whether instant t lies in the span.
func (sp span) contains(t time.Time) bool {
	return (sp.start.IsZero() || !t.Before(sp.start)) && (sp.end.IsZero() || t.Before(sp.end))
}

// resolve maps reading r to instants in loc. first is the first instant whose
// reading is at or after r: the instant showing r when it exists (the earlier
// one when it occurs twice), or the first valid instant after r when the
// clocks skip it. occurrences lists every instant that shows exactly r, in
// order: none in a gap, two in a fold.
func resolve(loc *time.Location, r time.Time) (first time.Time, occurrences []time.Time) {
	t := r.Add(-resolveWindow)
	limit := r.Add(resolveWindow)
	found := false
	for range maxSpansPerLookup {
		sp := spanAt(loc, t)
		cand := r.Add(-sp.offset)
		if sp.contains(cand) {
			occurrences = append(occurrences, cand)
		}
		if !found {
			f := cand
			if !sp.start.IsZero() && f.Before(sp.start) {
				f = sp.start.UTC()
			}
			if sp.end.IsZero() || f.Before(sp.end) {
				first, found = f, true
			}
		}
		if sp.end.IsZero() || sp.end.After(limit) {
			break
		}
		t = sp.end
	}
	if !found {
		// Only reachable with a corrupt zone; the naive mapping is the best
		// remaining answer.
		first = r.Add(-spanAt(loc, r).offset)
	}
	return first, occurrences
}

// clockText formats the time of day of reading r, with seconds only when
// they are not zero.
func clockText(r time.Time) string {
	if r.Second() != 0 {
		return r.Format("15:04:05")
	}
	return r.Format("15:04")
}

// offsetText formats a UTC offset as "+01:00".
func offsetText(off time.Duration) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	s := int(off / time.Second)
	text := fmt.Sprintf("%c%02d:%02d", sign, s/3600, s%3600/60)
	if s%60 != 0 {
		text += fmt.Sprintf(":%02d", s%60)
	}
	return text
}

// localText formats instant t in loc as "2026-03-29 03:00:00 +02:00 CEST",
// leaving out the abbreviation when the zone has none.
func localText(t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	name, off := lt.Zone()
	text := lt.Format("2006-01-02 15:04:05 ") + offsetText(time.Duration(off)*time.Second)
	if isAbbreviation(name) {
		text += " " + name
	}
	return text
}

// isAbbreviation reports whether a zone name is letters only, as "CEST" is and
// the numeric stand-in "+1030" is not.
func isAbbreviation(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}
