package schedule

import (
	"time"
)

// Spec computes the fire times of a schedule. The schedules of package
// spec implement it.
type Spec interface {
	// Next returns the first fire time strictly after after; false when the
	// schedule fires no more.
	Next(after time.Time) (time.Time, bool)
	// Between returns, in order, the fire times strictly after from and not
	// after to, at most max of them.
	Between(from, to time.Time, max int) []time.Time
}

const (
	// firstCatchUpWindow is the first window searched backwards for missed
	// fire times; it doubles until enough are found.
	firstCatchUpWindow = time.Hour
	// maxCatchUpScan bounds the fire times computed while looking for missed
	// ones, so that a very dense schedule after a very long outage cannot
	// stall a step.
	maxCatchUpScan = 100_000
)

// planInput is what a step knows about one schedule.
type planInput struct {
	spec Spec
	// cursor is the schedule's last_nominal_time.
	cursor time.Time
	now    time.Time
	// horizon and maxAhead bound the fire times created ahead of now.
	horizon  time.Duration
	maxAhead int
	// keepMissed is how many missed fire times get a run: 0 for skip, 1 for
	// latest, the cap for all.
	keepMissed int
	// dropAfter drops missed fire times older than now-dropAfter; 0 keeps all.
	dropAfter time.Duration
}

// plan is what a step does for one schedule.
type plan struct {
	// create lists the fire times to create runs for, earliest first.
	create []time.Time
	// cursor is the schedule's new cursor: every fire time at or before it
	// has a run or was dropped once create is written.
	cursor time.Time
	// scanCut reports that the search for missed fire times stopped at
	// [maxCatchUpScan], so some missed fire times were dropped unseen.
	scanCut bool
}

// makePlan decides which fire times of a schedule get a run in this step.
// Fire times before now that have no run yet were missed (the scheduler was
// down, or the schedule paused); the newest keepMissed of them not older
// than dropAfter are created and the rest dropped. Fire times from now on
// are created ahead up to the horizon, at most maxAhead of them counting
// those created by earlier steps.
func makePlan(in planInput) plan {
	p := plan{cursor: maxTime(in.cursor, in.now)}

	if in.keepMissed > 0 {
		lo := in.cursor
		if in.dropAfter > 0 {
			// Keep t >= now-dropAfter: search strictly after the instant before it.
			lo = maxTime(lo, in.now.Add(-in.dropAfter).Add(-time.Nanosecond))
		}
		if lo.Before(in.now) {
			p.create, p.scanCut = lastBefore(in.spec, lo, in.now, in.keepMissed)
		}
	}

	until := in.now.Add(in.horizon)
	t, ok := in.spec.Next(in.now.Add(-time.Nanosecond))
	for n := 0; ok && n < in.maxAhead && !t.After(until); n++ {
		if t.After(in.cursor) {
			p.create = append(p.create, t)
			p.cursor = maxTime(p.cursor, t)
		}
		t, ok = in.spec.Next(t)
	}
	return p
}

// lastBefore returns the last k fire times t with lo < t < hi, earliest
// first. It searches backwards from hi in windows that double in length,
// so a long gap costs a few searches and a dense schedule a short one;
// scanCut reports that [maxCatchUpScan] stopped the search, in which case
// the result is empty.
func lastBefore(sp Spec, lo, hi time.Time, k int) (found []time.Time, scanCut bool) {
	budget := maxCatchUpScan
	span := hi.Sub(lo)
	for window := firstCatchUpWindow; ; {
		start := lo
		if window < span {
			start = hi.Add(-window)
		}
		// One nanosecond before hi: Between includes its upper bound.
		times := sp.Between(start, hi.Add(-time.Nanosecond), budget+1)
		if len(times) > budget {
			return nil, true
		}
		budget -= len(times)
		if len(times) >= k || start.Equal(lo) {
			return times[max(0, len(times)-k):], false
		}
		// Doubling stops at the whole span, so the window never overflows.
		if window > span/2 {
			window = span
		} else {
			window *= 2
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
