package spec

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// ruleHorizon bounds the search for the next reading of a rule. A rule
	// that matches nothing within it is treated as never firing.
	ruleHorizon = 100 // years
	// maxRuleCount bounds COUNT: counting fires from DTSTART costs one step per
	// fire, so larger counts should be written with UNTIL.
	maxRuleCount = 10000
	// maxRuleInterval bounds INTERVAL so that one period always fits within
	// ruleHorizon.
	maxRuleInterval = 1000
	// maxLatticeSteps bounds the steps of one FREQ=MINUTELY search.
	maxLatticeSteps = 1_000_000
)

// supportedRuleParts is quoted in messages about unsupported parts.
const supportedRuleParts = "FREQ, INTERVAL, COUNT, UNTIL, BYMONTH, BYMONTHDAY, BYDAY, BYHOUR, BYMINUTE, BYSECOND, WKST"

// frequency is an RRULE FREQ value.
type frequency int

const (
	freqMinutely frequency = iota + 1
	freqHourly
	freqDaily
	freqWeekly
	freqMonthly
)

var frequencies = map[string]frequency{
	"MINUTELY": freqMinutely,
	"HOURLY":   freqHourly,
	"DAILY":    freqDaily,
	"WEEKLY":   freqWeekly,
	"MONTHLY":  freqMonthly,
}

var ruleWeekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// weekdayNum is one BYDAY entry: a weekday, and for FREQ=MONTHLY optionally
// its position in the month (1 first, -1 last; 0 every).
type weekdayNum struct {
	n   int
	day time.Weekday
}

// untilForm says how UNTIL was written.
type untilForm int

const (
	untilNone  untilForm = iota
	untilUTC             // 20260101T090000Z: an instant
	untilLocal           // 20260101T090000: a reading in the schedule's zone
	untilDate            // 20260101: to the end of that local day
)

// rule is a parsed RRULE.
type rule struct {
	freq       frequency
	interval   int
	count      int
	untilForm  untilForm
	until      time.Time // instant for untilUTC, reading otherwise
	byHour     []int
	byMinute   []int
	bySecond   []int
	byMonthDay []int
	byMonth    []int
	byDay      []weekdayNum
	wkst       time.Weekday
}

// parseRule parses the text of one RRULE, with or without the "RRULE:"
// prefix.
func parseRule(text string) (*rule, error) {
	body := strings.TrimSpace(text)
	if len(body) >= 6 && strings.EqualFold(body[:6], "RRULE:") {
		body = body[6:]
	}
	if body == "" {
		return nil, fieldErr("rrule", "", "rule is empty")
	}
	if strings.ContainsAny(body, "\r\n") {
		return nil, fieldErr("rrule", "", "give a single RRULE line; DTSTART and TZID are given separately")
	}
	r := &rule{interval: 1, wkst: time.Monday}
	seen := make(map[string]bool)
	for part := range strings.SplitSeq(body, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fieldErr("rrule", part, "want NAME=VALUE")
		}
		name = strings.ToUpper(name)
		field := "rrule " + name
		if seen[name] {
			return nil, fieldErr(field, value, "given more than once")
		}
		seen[name] = true
		if err := r.setPart(name, field, value); err != nil {
			return nil, err
		}
	}
	if !seen["FREQ"] {
		return nil, fieldErr("rrule FREQ", "", "required")
	}
	if seen["COUNT"] && seen["UNTIL"] {
		return nil, fieldErr("rrule", text, "COUNT and UNTIL cannot both be given")
	}
	if r.freq != freqMonthly {
		for _, wn := range r.byDay {
			if wn.n != 0 {
				return nil, fieldErr("rrule BYDAY", weekdayText(wn),
					"a numbered day is only allowed with FREQ=MONTHLY")
			}
		}
	}
	if r.freq == freqWeekly && len(r.byMonthDay) > 0 {
		return nil, fieldErr("rrule BYMONTHDAY", "", "not allowed with FREQ=WEEKLY")
	}
	return r, nil
}

// setPart parses one NAME=VALUE part into r.
func (r *rule) setPart(name, field, value string) error {
	var err error
	switch name {
	case "FREQ":
		f, ok := frequencies[strings.ToUpper(value)]
		if !ok {
			return fieldErr(field, value, "not supported; use MINUTELY, HOURLY, DAILY, WEEKLY or MONTHLY")
		}
		r.freq = f
	case "INTERVAL":
		r.interval, err = parseRuleInt(field, value, 1, maxRuleInterval)
	case "COUNT":
		r.count, err = parseRuleInt(field, value, 1, maxRuleCount)
	case "UNTIL":
		err = r.parseUntil(field, value)
	case "BYHOUR":
		r.byHour, err = parseRuleList(field, value, 0, 23)
	case "BYMINUTE":
		r.byMinute, err = parseRuleList(field, value, 0, 59)
	case "BYSECOND":
		r.bySecond, err = parseRuleList(field, value, 0, 59)
	case "BYMONTH":
		r.byMonth, err = parseRuleList(field, value, 1, 12)
	case "BYMONTHDAY":
		r.byMonthDay, err = parseRuleList(field, value, -31, 31)
		if err == nil && slices.Contains(r.byMonthDay, 0) {
			err = fieldErr(field, value, "day 0 does not exist; use 1 to 31 or -31 to -1")
		}
	case "BYDAY":
		r.byDay, err = parseByDay(field, value)
	case "WKST":
		d, ok := ruleWeekdays[strings.ToUpper(value)]
		if !ok {
			return fieldErr(field, value, "want one of MO, TU, WE, TH, FR, SA, SU")
		}
		r.wkst = d
	case "DTSTART", "TZID":
		return fieldErr(field, value, "DTSTART and TZID are given separately, not inside the rule")
	case "BYSETPOS", "BYYEARDAY", "BYWEEKNO", "RSCALE", "SKIP":
		return fieldErr(field, value, "not supported; supported parts are "+supportedRuleParts)
	default:
		return fieldErr(field, value, "unknown part; supported parts are "+supportedRuleParts)
	}
	return err
}

// parseUntil parses UNTIL as a UTC date-time, a local date-time or a date.
func (r *rule) parseUntil(field, value string) error {
	layouts := []struct {
		layout string
		form   untilForm
	}{
		{"20060102T150405Z", untilUTC},
		{"20060102T150405", untilLocal},
		{"20060102", untilDate},
	}
	for _, l := range layouts {
		if len(value) != len(l.layout) {
			continue
		}
		t, err := time.Parse(l.layout, value)
		if err != nil {
			break
		}
		r.until, r.untilForm = t, l.form
		return nil
	}
	return fieldErr(field, value, "want 20060102T150405Z, 20060102T150405 or 20060102")
}

// parseRuleInt parses a decimal integer within [lo, hi].
func parseRuleInt(field, value string, lo, hi int) (int, error) {
	text := strings.TrimPrefix(strings.TrimPrefix(value, "+"), "-")
	if !isDigits(text) {
		return 0, fieldErr(field, value, "not a number")
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < lo || n > hi {
		return 0, fieldErr(field, value, "out of range %d to %d", lo, hi)
	}
	return n, nil
}

// parseRuleList parses a comma-separated list of integers within [lo, hi],
// returned sorted without duplicates.
func parseRuleList(field, value string, lo, hi int) ([]int, error) {
	var list []int
	for item := range strings.SplitSeq(value, ",") {
		text := strings.TrimPrefix(strings.TrimPrefix(item, "+"), "-")
		if !isDigits(text) {
			return nil, fieldErr(field, value, "%q is not a number", item)
		}
		n, err := strconv.Atoi(item)
		if err != nil || n < lo || n > hi {
			return nil, fieldErr(field, value, "%s is out of range %d to %d", item, lo, hi)
		}
		list = append(list, n)
	}
	slices.Sort(list)
	return slices.Compact(list), nil
}

// parseByDay parses BYDAY entries such as MO, 1MO, +2TU and -1FR.
func parseByDay(field, value string) ([]weekdayNum, error) {
	var list []weekdayNum
	for item := range strings.SplitSeq(value, ",") {
		if len(item) < 2 {
			return nil, fieldErr(field, value, "%q is not a day such as MO or -1FR", item)
		}
		day, ok := ruleWeekdays[strings.ToUpper(item[len(item)-2:])]
		if !ok {
			return nil, fieldErr(field, value, "%q does not end in MO, TU, WE, TH, FR, SA or SU", item)
		}
		wn := weekdayNum{day: day}
		if num := item[:len(item)-2]; num != "" {
			n, err := parseRuleInt(field, num, -5, 5)
			if err != nil || n == 0 {
				return nil, fieldErr(field, value, "position %q in %q must be 1 to 5 or -5 to -1", num, item)
			}
			wn.n = n
		}
		if !slices.Contains(list, wn) {
			list = append(list, wn)
		}
	}
	return list, nil
}

// weekdayText formats a BYDAY entry.
func weekdayText(wn weekdayNum) string {
	name := strings.ToUpper(wn.day.String()[:2])
	if wn.n == 0 {
		return name
	}
	return strconv.Itoa(wn.n) + name
}

// untilInstant returns the last instant UNTIL allows, in loc.
func (r *rule) untilInstant(loc *time.Location) time.Time {
	switch r.untilForm {
	case untilLocal:
		first, occ := resolve(loc, r.until)
		if len(occ) > 0 {
			return occ[len(occ)-1]
		}
		return first
	case untilDate:
		first, _ := resolve(loc, r.until.AddDate(0, 0, 1))
		return first.Add(-time.Nanosecond)
	default:
		return r.until
	}
}

// dayFilter holds the BYMONTH, BYMONTHDAY and plain BYDAY limits on dates.
type dayFilter struct {
	months    uint16 // bit per month; zero allows all
	monthDays []int  // allowed days, negative from the month's end; empty allows all
	weekdays  uint8  // bit per weekday; zero allows all
}

func newDayFilter(r *rule, withWeekdays bool) dayFilter {
	var f dayFilter
	for _, m := range r.byMonth {
		f.months |= 1 << uint(m)
	}
	f.monthDays = r.byMonthDay
	if withWeekdays {
		for _, wn := range r.byDay {
			f.weekdays |= 1 << uint(wn.day)
		}
	}
	return f
}

// check reports whether the date of reading d passes, and if not, the first
// later date that might.
func (f dayFilter) check(d time.Time) (ok bool, skipTo time.Time) {
	y, m, day := d.Date()
	if f.months != 0 && f.months&(1<<uint(m)) == 0 {
		return false, time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	nextDay := time.Date(y, m, day+1, 0, 0, 0, 0, time.UTC)
	if f.weekdays != 0 && f.weekdays&(1<<uint(d.Weekday())) == 0 {
		return false, nextDay
	}
	if len(f.monthDays) > 0 {
		fromEnd := day - daysIn(y, m) - 1
		if !slices.Contains(f.monthDays, day) && !slices.Contains(f.monthDays, fromEnd) {
			return false, nextDay
		}
	}
	return true, time.Time{}
}

// daysIn returns the number of days in a month.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// rulePattern generates the readings of an HOURLY, DAILY, WEEKLY or MONTHLY
// rule. Periods are counted on the wall clock from DTSTART's reading.
type rulePattern struct {
	freq     frequency
	interval int64
	d0       time.Time // DTSTART's reading
	origin   time.Time // start of period 0
	filter   dayFilter
	hours    []int  // expanded hours (DAILY and longer)
	hourSet  uint32 // allowed hours for HOURLY; zero allows all
	minutes  []int
	seconds  []int
	weekdays []time.Weekday // WEEKLY: days expanded in each week
	byDay    []weekdayNum   // MONTHLY
	monthDay []int          // MONTHLY
}

func newRulePattern(r *rule, d0 time.Time) *rulePattern {
	p := &rulePattern{
		freq:     r.freq,
		interval: int64(r.interval),
		d0:       d0,
		minutes:  orDefault(r.byMinute, d0.Minute()),
		seconds:  orDefault(r.bySecond, d0.Second()),
	}
	y, m, d := d0.Date()
	switch r.freq {
	case freqHourly:
		p.origin = d0.Truncate(time.Hour)
		p.filter = newDayFilter(r, true)
		for _, h := range r.byHour {
			p.hourSet |= 1 << uint(h)
		}
	case freqDaily:
		p.origin = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		p.filter = newDayFilter(r, true)
		p.hours = orDefault(r.byHour, d0.Hour())
	case freqWeekly:
		back := (int(d0.Weekday()) - int(r.wkst) + 7) % 7
		p.origin = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		p.filter = newDayFilter(r, false)
		p.hours = orDefault(r.byHour, d0.Hour())
		for _, wn := range r.byDay {
			p.weekdays = append(p.weekdays, wn.day)
		}
		if len(p.weekdays) == 0 {
			p.weekdays = []time.Weekday{d0.Weekday()}
		}
		// Order the days by their place in a week that starts on WKST.
		slices.SortFunc(p.weekdays, func(a, b time.Weekday) int {
			return (int(a)-int(r.wkst)+7)%7 - (int(b)-int(r.wkst)+7)%7
		})
	case freqMonthly:
		p.origin = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		p.filter = dayFilter{months: newDayFilter(r, false).months}
		p.hours = orDefault(r.byHour, d0.Hour())
		p.byDay = r.byDay
		p.monthDay = r.byMonthDay
		if len(p.byDay) == 0 && len(p.monthDay) == 0 {
			p.monthDay = []int{d0.Day()}
		}
	}
	return p
}

// orDefault returns list, or a list of def when list is empty.
func orDefault(list []int, def int) []int {
	if len(list) == 0 {
		return []int{def}
	}
	return list
}

// subHourly reports whether the pattern can give more than one reading in an
// hour.
func (p *rulePattern) subHourly() bool {
	return len(p.minutes)*len(p.seconds) > 1
}

// index returns the number of the period containing reading w.
func (p *rulePattern) index(w time.Time) int64 {
	var units int64
	switch p.freq {
	case freqHourly:
		units = (w.Unix() - p.origin.Unix()) / 3600
	case freqDaily:
		units = (w.Unix() - p.origin.Unix()) / 86400
	case freqWeekly:
		units = (w.Unix() - p.origin.Unix()) / (7 * 86400)
	case freqMonthly:
		units = int64(w.Year()-p.origin.Year())*12 + int64(w.Month()-p.origin.Month())
	}
	if units < 0 {
		return 0
	}
	return units / p.interval
}

// start returns the first reading of period k.
func (p *rulePattern) start(k int64) time.Time {
	n := k * p.interval
	switch p.freq {
	case freqHourly:
		return p.origin.Add(time.Duration(n) * time.Hour)
	case freqDaily:
		return p.origin.AddDate(0, 0, int(n))
	case freqWeekly:
		return p.origin.AddDate(0, 0, int(7*n))
	default:
		return p.origin.AddDate(0, int(n), 0)
	}
}

// next returns the first reading at or after w, and not before DTSTART.
func (p *rulePattern) next(w time.Time) (time.Time, bool) {
	if w.Before(p.d0) {
		w = p.d0
	}
	limit := w.AddDate(ruleHorizon, 0, 0)
	var buf []time.Time
	for k := p.index(w); ; k++ {
		start := p.start(k)
		if start.After(limit) {
			return time.Time{}, false
		}
		var skipTo time.Time
		buf, skipTo = p.expand(start, buf[:0])
		for _, r := range buf {
			if !r.Before(w) {
				return r, true
			}
		}
		if !skipTo.IsZero() {
			// The loop's k++ lands on the period holding skipTo.
			k = max(k, p.index(skipTo)-1)
		}
	}
}

// expand appends the readings of the period starting at start, in order.
// When a whole day is filtered out it also returns the next date worth
// trying, so that sparse rules do not walk every period.
func (p *rulePattern) expand(start time.Time, buf []time.Time) ([]time.Time, time.Time) {
	switch p.freq {
	case freqHourly:
		if ok, skipTo := p.filter.check(start); !ok {
			return buf, skipTo
		}
		if p.hourSet != 0 && p.hourSet&(1<<uint(start.Hour())) == 0 {
			return buf, time.Time{}
		}
		return p.appendTimes(buf, start, []int{start.Hour()}), time.Time{}
	case freqDaily:
		if ok, skipTo := p.filter.check(start); !ok {
			return buf, skipTo
		}
		return p.appendTimes(buf, start, p.hours), time.Time{}
	case freqWeekly:
		for _, wd := range p.weekdays {
			d := start.AddDate(0, 0, (int(wd)-int(start.Weekday())+7)%7)
			if ok, _ := p.filter.check(d); ok {
				buf = p.appendTimes(buf, d, p.hours)
			}
		}
		return buf, time.Time{}
	default:
		if ok, skipTo := p.filter.check(start); !ok {
			return buf, skipTo
		}
		y, m, _ := start.Date()
		for d := range p.monthDays(y, m) {
			buf = p.appendTimes(buf, time.Date(y, m, d, 0, 0, 0, 0, time.UTC), p.hours)
		}
		return buf, time.Time{}
	}
}

// monthDays yields, in order, the days of a month that a MONTHLY rule picks.
func (p *rulePattern) monthDays(y int, m time.Month) func(func(int) bool) {
	return func(yield func(int) bool) {
		dim := daysIn(y, m)
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
		for d := 1; d <= dim; d++ {
			if p.monthDayMatches(d, dim) && p.byDayMatches(d, dim, first) && !yield(d) {
				return
			}
		}
	}
}

func (p *rulePattern) monthDayMatches(d, dim int) bool {
	return len(p.monthDay) == 0 ||
		slices.Contains(p.monthDay, d) || slices.Contains(p.monthDay, d-dim-1)
}

func (p *rulePattern) byDayMatches(d, dim int, first time.Weekday) bool {
	if len(p.byDay) == 0 {
		return true
	}
	wd := time.Weekday((int(first) + d - 1) % 7)
	nth := (d-1)/7 + 1
	nthFromEnd := -((dim-d)/7 + 1)
	for _, wn := range p.byDay {
		if wn.day == wd && (wn.n == 0 || wn.n == nth || wn.n == nthFromEnd) {
			return true
		}
	}
	return false
}

// appendTimes appends the readings on date d at each of hours and the
// pattern's minutes and seconds, in order.
func (p *rulePattern) appendTimes(buf []time.Time, d time.Time, hours []int) []time.Time {
	y, m, day := d.Date()
	for _, h := range hours {
		for _, mi := range p.minutes {
			for _, s := range p.seconds {
				buf = append(buf, time.Date(y, m, day, h, mi, s, 0, time.UTC))
			}
		}
	}
	return buf
}

// latticeSource generates the fires of a FREQ=MINUTELY rule: every INTERVAL
// minutes of elapsed time from DTSTART, kept when the local reading passes
// the rule's BYxxx limits.
type latticeSource struct {
	loc     *time.Location
	base    time.Time // DTSTART without its seconds
	step    int64     // seconds
	seconds []int
	filter  dayFilter
	hours   uint32 // zero allows all
	minutes uint64 // zero allows all
}

func newLatticeSource(r *rule, dtstart time.Time, loc *time.Location) *latticeSource {
	d0 := wall(dtstart, loc)
	ls := &latticeSource{
		loc:     loc,
		base:    dtstart.Add(-time.Duration(d0.Second()) * time.Second),
		step:    int64(r.interval) * 60,
		seconds: orDefault(r.bySecond, d0.Second()),
		filter:  newDayFilter(r, true),
	}
	for _, h := range r.byHour {
		ls.hours |= 1 << uint(h)
	}
	for _, m := range r.byMinute {
		ls.minutes |= 1 << uint(m)
	}
	return ls
}

func (ls *latticeSource) next(after time.Time) (fire, bool) {
	k := max(0, (after.Unix()-ls.base.Unix())/ls.step)
	limit := after.AddDate(ruleHorizon, 0, 0)
	for range maxLatticeSteps {
		m := time.Unix(ls.base.Unix()+k*ls.step, 0).UTC()
		if m.After(limit) {
			return fire{}, false
		}
		rd := wall(m, ls.loc)
		var target time.Time
		if ok, skipTo := ls.filter.check(rd); !ok {
			target, _ = resolve(ls.loc, skipTo)
		} else if ls.hours != 0 && ls.hours&(1<<uint(rd.Hour())) == 0 {
			target, _ = resolve(ls.loc, rd.Truncate(time.Hour).Add(time.Hour))
		}
		if !target.IsZero() {
			k = max(k+1, ceilDiv(target.Unix()-ls.base.Unix(), ls.step))
			continue
		}
		if ls.minutes == 0 || ls.minutes&(1<<uint(rd.Minute())) != 0 {
			for _, s := range ls.seconds {
				if t := m.Add(time.Duration(s) * time.Second); t.After(after) {
					return fire{at: t}, true
				}
			}
		}
		k++
	}
	return fire{}, false
}

// ceilDiv returns a/b rounded up, for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}
