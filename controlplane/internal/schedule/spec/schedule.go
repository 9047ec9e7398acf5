package spec

import (
	"fmt"
	"strings"
	"time"
)

// Kind names a kind of schedule specification.
type Kind string

// The kinds of schedule.
const (
	// KindCron is a five-field cron expression or macro in a time zone.
	KindCron Kind = "cron"
	// KindInterval is a fixed duration of elapsed time from an anchor.
	KindInterval Kind = "interval"
	// KindRRule is an RFC 5545 recurrence rule with a DTSTART and a zone.
	KindRRule Kind = "rrule"
)

// Spec is the stored form of a schedule, as accepted by [Parse].
type Spec struct {
	// Kind selects how the other fields are read.
	Kind Kind
	// Expr is the cron expression (KindCron) or the recurrence rule
	// (KindRRule). For KindInterval it may hold the duration instead of Every,
	// as "15m" or "every 15m".
	Expr string
	// Zone is the IANA time zone the schedule is read in; empty means UTC.
	// Intervals use it only to show local times in previews.
	Zone string
	// Every is the length of an interval (KindInterval).
	Every time.Duration
	// Anchor fixes the phase of an interval (KindInterval) or is the DTSTART
	// of a rule (KindRRule). Cron schedules ignore it.
	Anchor time.Time
}

// Parse checks a specification and returns its schedule. Errors are
// [*FieldError] values naming the part at fault.
func Parse(sp Spec) (Schedule, error) {
	switch sp.Kind {
	case KindCron:
		return ParseCron(sp.Expr, sp.Zone)
	case KindRRule:
		return ParseRRule(sp.Expr, sp.Anchor, sp.Zone)
	case KindInterval:
		every := sp.Every
		if every == 0 && sp.Expr != "" {
			d, err := ParseEvery(sp.Expr)
			if err != nil {
				return Schedule{}, err
			}
			every = d
		}
		return NewInterval(every, sp.Anchor, sp.Zone)
	default:
		return Schedule{}, fieldErr("kind", string(sp.Kind), "want cron, interval or rrule")
	}
}

// ParseCron parses a cron expression read in the named IANA zone (empty means
// UTC).
//
// The expression has five fields, minute (0-59), hour (0-23), day of month
// (1-31), month (1-12 or JAN-DEC) and day of week (0-7 or SUN-SAT, with 0 and
// 7 both Sunday), each a comma-separated list of "*", values, ranges "a-b"
// and steps "*/n", "a-b/n" or "a/n". Names are case-insensitive. The macros
// @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly are
// accepted. As in Vixie cron, when both day fields are restricted (neither
// starts with "*") a day matching either one fires; otherwise a day must
// match both. An expression that can never fire, such as "0 0 30 2 *", is
// refused. Errors are [*FieldError] values naming the field and the problem.
func ParseCron(expr, zone string) (Schedule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return Schedule{}, err
	}
	p, err := parseCronPattern(expr)
	if err != nil {
		return Schedule{}, err
	}
	elapsed := p.subHourly()
	return Schedule{
		kind:    KindCron,
		loc:     loc,
		desc:    fmt.Sprintf("cron %q in %s", strings.TrimSpace(expr), loc),
		src:     &localSource{pat: p, loc: loc, elapsed: elapsed},
		pat:     p,
		elapsed: elapsed,
	}, nil
}

// minEvery is the shortest interval accepted; fire times are kept to whole
// seconds elsewhere, and anything shorter is no schedule.
const minEvery = time.Second

// ParseEvery parses the text of an interval, "15m" or "every 15m", in the
// syntax of [time.ParseDuration].
func ParseEvery(text string) (time.Duration, error) {
	body := strings.TrimSpace(text)
	if len(body) > 6 && strings.EqualFold(body[:6], "every ") {
		body = strings.TrimSpace(body[6:])
	}
	d, err := time.ParseDuration(body)
	if err != nil {
		return 0, fieldErr("interval", text, "not a duration such as 15m or 1h30m")
	}
	return d, nil
}

// NewInterval returns a schedule that fires at anchor + k·every for every
// integer k, in elapsed time: the anchor fixes the phase and is not a start
// time, and daylight-saving changes do not move the fires. The zone (empty
// means UTC) is used only to show local times in previews. every must be at
// least one second.
func NewInterval(every time.Duration, anchor time.Time, zone string) (Schedule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return Schedule{}, err
	}
	if every < minEvery {
		return Schedule{}, fieldErr("interval", every.String(), "must be at least %s", minEvery)
	}
	if anchor.IsZero() {
		return Schedule{}, fieldErr("anchor", "", "required")
	}
	anchor = anchor.UTC()
	return Schedule{
		kind:    KindInterval,
		loc:     loc,
		desc:    fmt.Sprintf("every %s from %s", every, anchor.Format(time.RFC3339Nano)),
		src:     intervalSource{anchor: anchor, every: every},
		elapsed: true,
	}, nil
}

// ParseRRule parses a recurrence rule read in the named IANA zone (empty
// means UTC), starting at dtstart, whose reading in the zone also supplies
// the defaults RFC 5545 takes from DTSTART (the hour, minute and second of
// each fire, the weekday of a WEEKLY rule, the day of a MONTHLY rule).
// dtstart is truncated to whole seconds.
//
// Supported parts: FREQ (MINUTELY, HOURLY, DAILY, WEEKLY or MONTHLY),
// INTERVAL, COUNT, UNTIL (UTC "Z", local, or a date meaning to the end of
// that local day), BYMONTH, BYMONTHDAY (negative counts from the month's
// end), BYDAY (MO to SU; numbered such as 1MO or -1FR with FREQ=MONTHLY),
// BYHOUR, BYMINUTE, BYSECOND and WKST. Other parts are refused by name.
//
// Fires are never before dtstart; a dtstart that does not itself match the
// rule is not a fire. COUNT counts fires, after missing readings that share
// an instant are merged; it is at most 10000. FREQ=MINUTELY steps in elapsed
// time; the other frequencies count periods on the wall clock and follow the
// package's daylight-saving rules. A rule that never fires is refused. Errors
// are [*FieldError] values naming the part and the problem.
//
// Known limitation: a rule with COUNT is walked from DTSTART on every call,
// so each call costs time in proportion to the fires already past (about
// 0.2 ms per 1000 on a laptop-class machine).
func ParseRRule(rule string, dtstart time.Time, zone string) (Schedule, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return Schedule{}, err
	}
	r, err := parseRule(rule)
	if err != nil {
		return Schedule{}, err
	}
	if dtstart.IsZero() {
		return Schedule{}, fieldErr("dtstart", "", "required")
	}
	dtstart = dtstart.UTC().Truncate(time.Second)
	s := Schedule{
		kind:     KindRRule,
		loc:      loc,
		desc:     fmt.Sprintf("rrule %q from %s in %s", strings.TrimSpace(rule), dtstart.Format(time.RFC3339), loc),
		start:    dtstart,
		hasStart: true,
		count:    r.count,
	}
	if r.untilForm != untilNone {
		s.until, s.hasUntil = r.untilInstant(loc), true
	}
	if r.freq == freqMinutely {
		s.src, s.elapsed = newLatticeSource(r, dtstart, loc), true
	} else {
		p := newRulePattern(r, wall(dtstart, loc))
		s.elapsed = p.subHourly()
		s.src, s.pat = &localSource{pat: p, loc: loc, elapsed: s.elapsed}, p
	}
	if _, ok := s.Next(dtstart.Add(-time.Nanosecond)); !ok {
		return Schedule{}, fieldErr("rrule", rule, "never fires on or after DTSTART %s", dtstart.Format(time.RFC3339))
	}
	return s, nil
}

// Schedule is a parsed schedule specification. Build one with [Parse],
// [ParseCron], [NewInterval] or [ParseRRule]; the zero value never fires.
// A Schedule is immutable and safe for concurrent use.
type Schedule struct {
	kind     Kind
	loc      *time.Location
	desc     string
	src      source
	pat      pattern // nil for intervals and FREQ=MINUTELY
	elapsed  bool
	start    time.Time
	hasStart bool
	until    time.Time
	hasUntil bool
	count    int
}

// Kind returns the kind of the schedule.
func (s Schedule) Kind() Kind { return s.kind }

// Location returns the zone the schedule is read in.
func (s Schedule) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// FiresByElapsedTime reports whether the schedule keeps the spacing of its
// fires in elapsed time across daylight-saving changes (intervals,
// FREQ=MINUTELY and sub-hourly schedules) rather than following the wall
// clock.
func (s Schedule) FiresByElapsedTime() bool { return s.elapsed }

// String describes the schedule, for logs and messages.
func (s Schedule) String() string { return s.desc }

// Next returns the first fire time strictly after after, in UTC, and false
// when the schedule never fires again.
func (s Schedule) Next(after time.Time) (time.Time, bool) {
	var at time.Time
	s.iterate(after, func(f fire) bool {
		at = f.at
		return false
	})
	return at, !at.IsZero()
}

// Between returns, in order, the fire times strictly after from and not
// after to, in UTC, at most max of them (none when max is not positive).
func (s Schedule) Between(from, to time.Time, max int) []time.Time {
	var out []time.Time
	if max <= 0 {
		return nil
	}
	s.iterate(from, func(f fire) bool {
		if f.at.After(to) {
			return false
		}
		out = append(out, f.at)
		return len(out) < max
	})
	return out
}

// Fire is one fire time of a [Schedule] as shown in a preview.
type Fire struct {
	// Time is the nominal fire time, in UTC.
	Time time.Time
	// Local is the same instant in the schedule's zone with its offset, such
	// as "2026-03-29 03:00:00 +02:00 CEST".
	Local string
	// DST explains how a daylight-saving change shaped this fire, such as
	// "gap: 02:30 does not exist, fired at 03:00"; empty when nothing did.
	DST string
}

// Preview returns the next n fire times strictly after from, each with its
// local time and a note on any daylight-saving change that shaped it.
func (s Schedule) Preview(from time.Time, n int) []Fire {
	if n <= 0 {
		return nil
	}
	loc := s.Location()
	out := make([]Fire, 0, min(n, 1000))
	prevOff := spanAt(loc, from).offset
	prevText := "the preview's start"
	s.iterate(from, func(f fire) bool {
		off := spanAt(loc, f.at).offset
		note := s.note(f)
		if note == "" && off != prevOff {
			note = fmt.Sprintf("offset changed from %s to %s since %s",
				offsetText(prevOff), offsetText(off), prevText)
		}
		out = append(out, Fire{Time: f.at, Local: localText(f.at, loc), DST: note})
		prevOff, prevText = off, "the previous fire"
		return len(out) < n
	})
	return out
}

// note describes the gap or fold behind fire f, if any.
func (s Schedule) note(f fire) string {
	loc := s.Location()
	shown := wall(f.at, loc)
	if !f.reading.IsZero() && !f.reading.Equal(shown) {
		last, n := f.reading, 0
		for r, ok := f.reading, true; ok && r.Before(shown) && n < maxGapReadings; r, ok = s.pat.next(r.Add(time.Second)) {
			last, n = r, n+1
		}
		if n > 1 {
			return fmt.Sprintf("gap: %s to %s do not exist, fired once at %s",
				clockText(f.reading), clockText(last), clockText(shown))
		}
		return fmt.Sprintf("gap: %s does not exist, fired at %s", clockText(f.reading), clockText(shown))
	}
	_, occ := resolve(loc, shown)
	if len(occ) < 2 {
		return ""
	}
	if !s.elapsed {
		return fmt.Sprintf("fold: %s occurs twice, fired once at the first", clockText(shown))
	}
	which := "first"
	if f.at.After(occ[0]) {
		which = "second"
	}
	return fmt.Sprintf("fold: %s occurs twice, fired at both by elapsed time; this is the %s",
		clockText(shown), which)
}

// maxGapReadings bounds the readings counted for one gap note.
const maxGapReadings = 100_000

// iterate calls yield with each fire strictly after after, in order, until
// yield returns false or the schedule ends.
func (s Schedule) iterate(after time.Time, yield func(fire) bool) {
	if s.src == nil {
		return
	}
	cursor := after
	if s.hasStart && (s.count > 0 || cursor.Before(s.start)) {
		// COUNT is counted from the first fire, so walk from DTSTART.
		cursor = s.start.Add(-time.Nanosecond)
	}
	used := 0
	for {
		f, ok := s.src.next(cursor)
		if !ok || (s.hasUntil && f.at.After(s.until)) {
			return
		}
		if s.count > 0 {
			if used++; used > s.count {
				return
			}
		}
		cursor = f.at
		if f.at.After(after) && !yield(f) {
			return
		}
	}
}

// fire is one fire time with the reading it was made for.
type fire struct {
	at      time.Time // instant, UTC
	reading time.Time // the matching reading; zero for elapsed-time sources
}

// source yields fire times.
type source interface {
	// next returns the first fire strictly after after.
	next(after time.Time) (fire, bool)
}

// pattern yields the matching readings of a cron expression or a rule.
type pattern interface {
	// next returns the first matching reading at or after w.
	next(w time.Time) (time.Time, bool)
}

// maxFoldSteps bounds the readings one wall-clock search may pass over
// inside a fold before finding a fire.
const maxFoldSteps = 100_000

// localSource turns the readings of a pattern into fires with the package's
// daylight-saving rules.
type localSource struct {
	pat     pattern
	loc     *time.Location
	elapsed bool
}

func (ls *localSource) next(after time.Time) (fire, bool) {
	if ls.elapsed {
		return ls.nextElapsed(after)
	}
	// Every reading before after's own reading maps to an instant at or
	// before after, so the search can start there; readings in a fold that
	// after has already passed are stepped over.
	w := wall(after, ls.loc).Truncate(time.Second)
	for range maxFoldSteps {
		r, ok := ls.pat.next(w)
		if !ok {
			return fire{}, false
		}
		if at, _ := resolve(ls.loc, r); at.After(after) {
			return fire{at: at, reading: r}, true
		}
		w = r.Add(time.Second)
	}
	return fire{}, false
}

// nextElapsed walks the zone's offset periods from after: within a period
// every matching reading is one instant, so a repeated hour fires in both
// passes; readings skipped between two periods fire once at the transition.
func (ls *localSource) nextElapsed(after time.Time) (fire, bool) {
	sp := spanAt(ls.loc, after)
	from := after.UTC().Add(sp.offset).Truncate(time.Second).Add(time.Second)
	for range maxSpansPerLookup * ruleHorizon {
		r, ok := ls.pat.next(from)
		if !ok {
			return fire{}, false
		}
		if sp.end.IsZero() || r.Before(sp.end.UTC().Add(sp.offset)) {
			return fire{at: r.Add(-sp.offset), reading: r}, true
		}
		next := spanAt(ls.loc, sp.end)
		if next.offset > sp.offset && r.Before(sp.end.UTC().Add(next.offset)) {
			return fire{at: sp.end.UTC(), reading: r}, true
		}
		from = sp.end.UTC().Add(next.offset)
		sp = next
	}
	return fire{}, false
}

// intervalSource fires at anchor + k·every.
type intervalSource struct {
	anchor time.Time
	every  time.Duration
}

func (is intervalSource) next(after time.Time) (fire, bool) {
	d := after.Sub(is.anchor)
	if d == minDuration || d > maxDuration-is.every {
		// About 292 years away: the step would overflow a Duration.
		return fire{}, false
	}
	k := d / is.every
	if d%is.every != 0 && d < 0 {
		k--
	}
	return fire{at: is.anchor.Add((k + 1) * is.every)}, true
}

const (
	minDuration time.Duration = -1 << 63
	maxDuration time.Duration = 1<<63 - 1
)
