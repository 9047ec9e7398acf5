package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Jitter returns a delay in [0, max) for the fire of the schedule named
// scheduleID at nominal. It depends only on its arguments, so every replica
// computes the same delay for the same fire and a restart does not move it.
// The delay is a whole number of microseconds, so nominal plus the delay
// survives a round trip through a PostgreSQL timestamptz. It is zero when max
// is under a microsecond.
func Jitter(nominal time.Time, scheduleID string, max time.Duration) time.Duration {
	steps := int64(max / time.Microsecond)
	if steps <= 0 {
		return 0
	}
	h := sha256.New()
	var stamp [12]byte
	binary.BigEndian.PutUint64(stamp[:8], uint64(nominal.Unix()))
	binary.BigEndian.PutUint32(stamp[8:], uint32(nominal.Nanosecond()))
	h.Write(stamp[:])
	h.Write([]byte(scheduleID))
	sum := h.Sum(nil)
	// The modulo bias is below 2^-40 for any max under a day.
	return time.Duration(binary.BigEndian.Uint64(sum[:8])%uint64(steps)) * time.Microsecond
}

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
// zero when s fires fewer than twice in that time.
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
