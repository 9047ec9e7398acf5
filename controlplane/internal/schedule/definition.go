package schedule

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Kind says how a schedule's expression is read.
type Kind string

// The kinds of schedule.
const (
	// KindCron reads Expression as a 5-field cron expression or a macro.
	KindCron Kind = "cron"
	// KindInterval fires every Interval from Anchor, in elapsed time.
	KindInterval Kind = "interval"
	// KindRRule reads Expression as an RFC 5545 RRULE starting at Anchor.
	KindRRule Kind = "rrule"
)

// CatchUp is the policy for fire times missed during an outage or a pause.
type CatchUp string

// The catch-up policies.
const (
	// CatchUpSkip creates no run for a missed fire time.
	CatchUpSkip CatchUp = "skip"
	// CatchUpLatest creates a run for the most recent missed fire time only.
	CatchUpLatest CatchUp = "latest"
	// CatchUpAll creates a run for each of the most recent CatchUpLimit
	// missed fire times.
	CatchUpAll CatchUp = "all"
)

const (
	// DefaultCatchUpLimit caps the missed runs of [CatchUpAll] when the
	// schedule sets no cap: enough for a short outage of an hourly job,
	// not a flood after a long one.
	DefaultCatchUpLimit = 10
	// MaxCatchUpLimit is the largest cap a schedule may set.
	MaxCatchUpLimit = 1000
	// DefaultMinInterval is the shortest time allowed between two fire
	// times of a schedule, unless the server configures another.
	DefaultMinInterval = time.Minute
	// MaxJitter bounds a schedule's jitter.
	MaxJitter = 24 * time.Hour
	// MaxExpressionLen bounds a cron or RRULE expression, as the API does.
	MaxExpressionLen = 1024
	// minIntervalSamples is how many upcoming fire times are checked
	// against the minimum interval at apply time.
	minIntervalSamples = 200
)

// Definition is a schedule as applied: when it fires, and what its runs get.
type Definition struct {
	// Kind says how Expression is read.
	Kind Kind
	// Expression is the cron expression or the RRULE; empty for an interval.
	Expression string
	// Zone is the IANA time zone; empty means UTC.
	Zone string
	// Anchor is the first fire time of an interval and the DTSTART of an
	// RRULE; zero means the time the schedule was first applied. Cron
	// schedules have none.
	Anchor time.Time
	// Interval is the period of an interval schedule.
	Interval time.Duration
	// Parameters is a JSON object merged over the deployment's defaults;
	// empty means {}.
	Parameters string
	// Active makes the scheduler create runs.
	Active bool
	// Jitter delays each run's expected start by a fixed amount of up to
	// Jitter, derived from the schedule and the fire time.
	Jitter time.Duration
	// CatchUp is the policy for missed fire times; empty means skip.
	CatchUp CatchUp
	// CatchUpLimit caps the missed runs of [CatchUpAll]; 0 means
	// [DefaultCatchUpLimit].
	CatchUpLimit int
	// DropAfter drops missed fire times older than this; 0 keeps them all.
	DropAfter time.Duration
}

// FieldError is a schedule refused because of one field. Field names it as
// the API does ("spec.zone", "spec.expression"); the text is safe to show
// to a client.
type FieldError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// equal reports whether d and o are the same definition.
func (d Definition) equal(o Definition) bool {
	anchorsEqual := d.Anchor.Equal(o.Anchor)
	d.Anchor, o.Anchor = time.Time{}, time.Time{}
	return anchorsEqual && d == o
}

// timingKey returns what decides d's fire times, to tell whether an
// update changes them.
func (d Definition) timingKey() [5]string {
	return [5]string{
		string(d.Kind), d.Expression, d.Zone,
		d.Anchor.UTC().Format(time.RFC3339Nano), d.Interval.String(),
	}
}

// normalize fills the defaults of d: the zone, the policy, the parameters,
// and the anchor of interval and RRULE schedules (the old anchor when
// there is one, else now to the second). It returns a [*FieldError] for a
// value out of range; the expression is checked by [compile].
func (d Definition) normalize(oldAnchor, now time.Time) (Definition, error) {
	if d.Zone == "" {
		d.Zone = "UTC"
	}
	if d.Parameters == "" {
		d.Parameters = "{}"
	}
	if d.CatchUp == "" {
		d.CatchUp = CatchUpSkip
	}
	switch d.Kind {
	case KindCron:
		if !d.Anchor.IsZero() {
			return d, &FieldError{Field: "spec.anchor_time", Reason: "applies to interval and rrule schedules, not cron"}
		}
		if d.Interval != 0 {
			return d, &FieldError{Field: "spec.interval", Reason: "applies to interval schedules, not cron"}
		}
	case KindInterval:
		if d.Expression != "" {
			return d, &FieldError{Field: "spec.expression", Reason: "must be empty for an interval schedule; set interval"}
		}
		if d.Interval <= 0 {
			return d, &FieldError{Field: "spec.interval", Reason: "is required for an interval schedule"}
		}
		if d.Interval%time.Second != 0 {
			return d, &FieldError{Field: "spec.interval", Reason: "must be a whole number of seconds"}
		}
	case KindRRule:
		if d.Interval != 0 {
			return d, &FieldError{Field: "spec.interval", Reason: "applies to interval schedules, not rrule"}
		}
	default:
		return d, &FieldError{Field: "spec.kind", Reason: "must be cron, interval or rrule"}
	}
	if d.Kind != KindInterval && d.Expression == "" {
		return d, &FieldError{Field: "spec.expression", Reason: fmt.Sprintf("is required for a %s schedule", d.Kind)}
	}
	if len(d.Expression) > MaxExpressionLen {
		return d, &FieldError{Field: "spec.expression", Reason: fmt.Sprintf("is longer than %d bytes", MaxExpressionLen)}
	}
	if d.Kind != KindCron && d.Anchor.IsZero() {
		d.Anchor = oldAnchor
		if d.Anchor.IsZero() {
			d.Anchor = now.Truncate(time.Second)
		}
	}
	// PostgreSQL keeps microseconds; whole seconds keep fire times exact.
	d.Anchor = d.Anchor.Truncate(time.Second)
	// Durations are stored in milliseconds.
	d.Jitter = d.Jitter.Truncate(time.Millisecond)
	d.DropAfter = d.DropAfter.Truncate(time.Millisecond)
	if d.Jitter < 0 || d.Jitter > MaxJitter {
		return d, &FieldError{Field: "spec.jitter", Reason: fmt.Sprintf("must be between 0 and %v", MaxJitter)}
	}
	if d.DropAfter < 0 {
		return d, &FieldError{Field: "spec.drop_if_later_than", Reason: "must not be negative"}
	}
	switch d.CatchUp {
	case CatchUpSkip, CatchUpLatest:
		if d.CatchUpLimit != 0 {
			return d, &FieldError{Field: "spec.catch_up_limit", Reason: "applies only to the catch-up policy all"}
		}
	case CatchUpAll:
		if d.CatchUpLimit == 0 {
			d.CatchUpLimit = DefaultCatchUpLimit
		}
		if d.CatchUpLimit < 0 || d.CatchUpLimit > MaxCatchUpLimit {
			return d, &FieldError{Field: "spec.catch_up_limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxCatchUpLimit)}
		}
	default:
		return d, &FieldError{Field: "spec.catch_up", Reason: "must be skip, latest or all"}
	}
	return d, nil
}

// keepMissed is how many missed fire times get a run under a policy.
func keepMissed(c CatchUp, limit int) int {
	switch c {
	case CatchUpLatest:
		return 1
	case CatchUpAll:
		if limit <= 0 {
			return DefaultCatchUpLimit
		}
		return limit
	}
	return 0
}

// definitionOf reads the definition stored in a schedule row.
func definitionOf(s db.Schedule) Definition {
	d := Definition{
		Kind:         Kind(s.Kind),
		Expression:   s.Expression,
		Zone:         s.Zone,
		Interval:     time.Duration(s.IntervalMs) * time.Millisecond,
		Parameters:   s.Parameters,
		Active:       s.Active,
		Jitter:       time.Duration(s.JitterMs) * time.Millisecond,
		CatchUp:      CatchUp(s.CatchUp),
		CatchUpLimit: int(s.CatchUpLimit),
		DropAfter:    time.Duration(s.DropAfterMs) * time.Millisecond,
	}
	if s.AnchorTime != nil {
		d.Anchor = s.AnchorTime.UTC()
	}
	return d
}
