package zic

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// earliestYear is the first year whose rule transitions are evaluated.
const earliestYear = 1800

// ErrUnknownZone is returned for a name that is neither a zone nor a link.
var ErrUnknownZone = errors.New("unknown zone")

// Offset is the local time in effect during a [Period].
type Offset struct {
	// UTCOffset is StdOffset plus Save: what to add to UT to get local time.
	UTCOffset time.Duration
	// StdOffset is the zone's standard offset from UT.
	StdOffset time.Duration
	// Save is the daylight-saving amount added to standard time; it is negative
	// where "winter time" is the daylight-saving time, as in Ireland.
	Save time.Duration
	// IsDST reports whether the time counts as daylight saving time.
	IsDST bool
	// Abbrev is the time zone abbreviation, such as "CEST" or "+0530".
	Abbrev string
}

// Period is a stretch of time during which one [Offset] applies. It lasts until
// the Start of the next Period.
type Period struct {
	// Start is when the period begins; the zero Time means the period began
	// before the zone's first recorded change.
	Start time.Time
	Offset
}

// Lookup returns the zone called name, following a link if name is one.
func (db *Database) Lookup(name string) (*Zone, bool) {
	if l, ok := db.Links[name]; ok {
		name = l.Target
	}
	z, ok := db.Zones[name]
	return z, ok
}

// OffsetAt returns the offset in effect in the zone called name at t.
// Sub-second parts of t are ignored: offsets change on whole seconds.
func (db *Database) OffsetAt(name string, t time.Time) (Offset, error) {
	ps, err := db.Periods(name, t, t.Add(time.Second))
	if err != nil {
		return Offset{}, err
	}
	return ps[0].Offset, nil
}

// Periods returns, in order, the periods of the zone called name that overlap
// [from, to): the one in effect at from, then one for each change before to.
// Consecutive periods always differ in at least one field of [Offset].
// It returns [ErrUnknownZone] for an unknown name. The work grows with the
// number of years from the zone's first rule to to.
func (db *Database) Periods(name string, from, to time.Time) ([]Period, error) {
	z, ok := db.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("zone %q: %w", name, ErrUnknownZone)
	}
	if !to.After(from) {
		return nil, fmt.Errorf("zone %q: period end %s is not after start %s", name, to, from)
	}
	lo, hi := from.Unix(), to.Unix()
	// Local dates run up to about a day ahead of UT, so the year after to's
	// UT year may hold a rule that applies before to.
	toYear := to.UTC().Year() + 1

	var out []Period
	for _, p := range db.timeline(z, hi, toYear) {
		start := p.start
		if len(out) > 0 && start <= lo {
			out = out[:0]
		}
		period := Period{Offset: p.offset}
		if start != math.MinInt64 {
			period.Start = time.Unix(start, 0).UTC()
		}
		out = append(out, period)
	}
	return out, nil
}

// change is a point on a zone's timeline, in Unix seconds.
type change struct {
	start  int64
	offset Offset
}

// timeline returns the zone's changes that start before until, merged so that
// neighbours differ. The first change starts at math.MinInt64.
//
// A change whose wall-clock time, read on the clock it replaces, is not after
// the wall-clock time of the change before it is folded into that earlier
// change, as zic does. This is how a rule meant to coincide with a zone line's
// UNTIL ("1983 Oct 30 2:00" with a rule at "Oct lastSun 2:00") takes effect
// with it even though the two lines have different standard offsets.
func (db *Database) timeline(z *Zone, until int64, toYear int) []change {
	var out []change
	emit := func(start int64, o Offset) {
		n := len(out)
		if n >= 2 {
			prev, before := out[n-1], out[n-2]
			if start+seconds(prev.offset.UTCOffset) <= prev.start+seconds(before.offset.UTCOffset) {
				out[n-1].offset = o
				if out[n-1].offset == before.offset {
					out = out[:n-1]
				}
				return
			}
		}
		if n > 0 && out[n-1].offset == o {
			return
		}
		out = append(out, change{start: start, offset: o})
	}

	start := int64(math.MinInt64)
	for i := range z.Eras {
		e := &z.Eras[i]
		var trans []ruleTransition
		if e.Rules == NamedRules {
			hi := toYear
			if e.Until != nil {
				hi = min(hi, e.Until.Year)
			}
			trans = ruleTransitions(db.Rules[e.RuleName], e.StdOff, hi)
		}
		end := int64(math.MaxInt64)
		if e.Until != nil {
			end = e.untilUnix(trans)
		}
		if end > start {
			emit(start, e.offset(e.stateAt(start, trans)))
			for _, t := range trans {
				if t.at > start && t.at < end && t.at < until {
					emit(t.at, e.offset(t.ruleState))
				}
			}
		}
		start = max(start, end)
		if start >= until {
			break
		}
	}
	return out
}

// ruleState is what a rule sets when it takes effect.
type ruleState struct {
	save    time.Duration
	isDST   bool
	letters string
}

type ruleTransition struct {
	at int64
	ruleState
}

// ruleTransitions returns, in order, the instants at which the rules of a set
// take effect up to the end of hiYear, for a zone whose standard offset is
// stdOff. Wall-clock times are read with the save of the transition before,
// as zic does, starting from a save of zero.
func ruleTransitions(rules []Rule, stdOff time.Duration, hiYear int) []ruleTransition {
	lo := hiYear + 1
	for _, r := range rules {
		lo = min(lo, r.From)
	}
	lo = max(lo, earliestYear)

	type candidate struct {
		local int64
		rule  *Rule
	}
	var (
		out      []ruleTransition
		cands    []candidate
		prevSave time.Duration
	)
	for y := lo; y <= hiYear; y++ {
		cands = cands[:0]
		for i := range rules {
			r := &rules[i]
			if r.From <= y && y <= r.To {
				local := r.Day.unixDay(y, r.Month)*secondsPerDay + int64(r.At.Offset/time.Second)
				cands = append(cands, candidate{local: local, rule: r})
			}
		}
		slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(a.local, b.local) })
		for _, c := range cands {
			at := c.local
			switch c.rule.At.Kind {
			case Standard:
				at -= int64(stdOff / time.Second)
			case Wall:
				at -= int64((stdOff + prevSave) / time.Second)
			}
			out = append(out, ruleTransition{at: at, ruleState: ruleState{
				save: c.rule.Save, isDST: c.rule.IsDST, letters: c.rule.Letters,
			}})
			prevSave = c.rule.Save
		}
	}
	return out
}

// stateAt returns the rule state in effect at the instant at. Before any rule
// has taken effect, zic uses standard time with the letters of the first rule
// that sets a save of zero.
func (e *Era) stateAt(at int64, trans []ruleTransition) ruleState {
	switch e.Rules {
	case NoRules:
		return ruleState{}
	case FixedSave:
		return ruleState{save: e.Save, isDST: e.IsDST}
	}
	i, found := slices.BinarySearchFunc(trans, at, func(t ruleTransition, at int64) int {
		return cmp.Compare(t.at, at)
	})
	if found {
		// Several transitions cannot share an instant in valid data; take the
		// last one if they do.
		for i+1 < len(trans) && trans[i+1].at == at {
			i++
		}
		return trans[i].ruleState
	}
	if i > 0 {
		return trans[i-1].ruleState
	}
	for _, t := range trans[i:] {
		if t.save == 0 {
			return ruleState{letters: t.letters}
		}
	}
	return ruleState{}
}

// saveBefore returns the save in effect just before the instant at.
func (e *Era) saveBefore(at int64, trans []ruleTransition) time.Duration {
	if at == math.MinInt64 {
		return e.stateAt(at, trans).save
	}
	return e.stateAt(at-1, trans).save
}

// untilUnix converts the era's UNTIL to Unix seconds, reading a wall-clock
// time with the save in effect just before it.
func (e *Era) untilUnix(trans []ruleTransition) int64 {
	u := e.Until
	local := u.localSeconds()
	std := int64(e.StdOff / time.Second)
	switch u.At.Kind {
	case Universal:
		return local
	case Standard:
		return local - std
	}
	// The save just before the end depends on when the end is; one refinement
	// settles it, as the save only changes at rule transitions hours apart.
	save := int64(e.saveBefore(local-std, trans) / time.Second)
	save = int64(e.saveBefore(local-std-save, trans) / time.Second)
	return local - std - save
}

func (e *Era) offset(s ruleState) Offset {
	utc := e.StdOff + s.save
	return Offset{
		UTCOffset: utc,
		StdOffset: e.StdOff,
		Save:      s.save,
		IsDST:     s.isDST,
		Abbrev:    formatAbbrev(e.Format, s.letters, s.isDST, utc),
	}
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// formatAbbrev expands a zone FORMAT the way zic does.
func formatAbbrev(format, letters string, isDST bool, utcOffset time.Duration) string {
	if std, dst, ok := strings.Cut(format, "/"); ok {
		if isDST {
			return dst
		}
		return std
	}
	if strings.Contains(format, "%z") {
		return strings.Replace(format, "%z", numericAbbrev(utcOffset), 1)
	}
	return strings.Replace(format, "%s", letters, 1)
}

// numericAbbrev formats an offset as ±hh, ±hhmm or ±hhmmss, whichever is the
// shortest without loss.
func numericAbbrev(d time.Duration) string {
	secs := int64(d / time.Second)
	sign := "+"
	if secs < 0 {
		sign, secs = "-", -secs
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	switch {
	case s != 0:
		return fmt.Sprintf("%s%02d%02d%02d", sign, h, m, s)
	case m != 0:
		return fmt.Sprintf("%s%02d%02d", sign, h, m)
	}
	return fmt.Sprintf("%s%02d", sign, h)
}
