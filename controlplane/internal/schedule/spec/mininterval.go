package spec

import "time"

const (
	// minIntervalWindow is how far ahead [MinInterval] and [CheckMinInterval]
	// look: a full year includes both daylight-saving changes of every zone.
	minIntervalWindow = 366 * 24 * time.Hour
	// minIntervalFires bounds the fires they examine, so a schedule firing
	// every second costs a bounded amount of work.
	minIntervalFires = 100_000
)

// MinInterval returns the shortest time between two consecutive fires of s
// in the year after from, looking at no more than 100000 fires. It returns
// zero when s fires fewer than twice in that time. Daylight-saving changes
// count: "30 2,3 * * *" in America/New_York has a 30-minute gap on the day
// 02:30 does not exist and fires at 03:00.
//
// Known limitation: a schedule firing more often than every five minutes
// reaches the 100000-fire bound before the year ends, so a gap that only a
// later daylight-saving change would shorten is not seen; its regular
// spacing, which is already below five minutes, is.
func MinInterval(s Schedule, from time.Time) time.Duration {
	shortest, _ := shortestGap(s, from, 0)
	return shortest
}

// CheckMinInterval returns a [*FieldError] for the field "schedule" when two
// consecutive fires of s in the year after from are less than min apart,
// naming the first such fire; it looks at no more than 100000 fires.
func CheckMinInterval(s Schedule, from time.Time, min time.Duration) error {
	gap, at := shortestGap(s, from, min)
	if gap > 0 && gap < min {
		return fieldErr("schedule", s.String(), "fires %s apart at %s, more often than the minimum interval %s",
			gap, at.Format(time.RFC3339), min)
	}
	return nil
}

// shortestGap returns the shortest gap between consecutive fires and the
// fire ending it. It stops early at the first gap under stopBelow.
func shortestGap(s Schedule, from time.Time, stopBelow time.Duration) (time.Duration, time.Time) {
	var (
		shortest time.Duration
		at, prev time.Time
		n        int
	)
	end := from.Add(minIntervalWindow)
	s.iterate(from, func(f fire) bool {
		if f.at.After(end) {
			return false
		}
		if !prev.IsZero() {
			if gap := f.at.Sub(prev); shortest == 0 || gap < shortest {
				shortest, at = gap, f.at
			}
		}
		prev = f.at
		n++
		return n < minIntervalFires && (shortest == 0 || shortest >= stopBelow)
	})
	return shortest, at
}
