package spec

import (
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// cronHorizon bounds the search for the next matching reading. A satisfiable
// cron pattern matches at least once every eight years (29 February skips
// 2100), so a longer search only proves that nothing matches.
const cronHorizon = 12 // years

// cronMacros maps each supported macro to its five-field form.
var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// cronField describes one of the five cron fields.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}
	weekdayNames = map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
	}
	cronFields = [5]cronField{
		{name: "cron minute", min: 0, max: 59},
		{name: "cron hour", min: 0, max: 23},
		{name: "cron day-of-month", min: 1, max: 31},
		{name: "cron month", min: 1, max: 12, names: monthNames},
		// 7 is accepted as a second name for Sunday, as Vixie cron does.
		{name: "cron day-of-week", min: 0, max: 7, names: weekdayNames},
	}
)

// cronPattern is a parsed cron expression: one bit per allowed value.
type cronPattern struct {
	minute, hour, dom, month, dow uint64
	// domStar and dowStar record a field written starting with "*". As in
	// Vixie cron, when either is set a day must match both fields; when
	// neither is, a day matching either field is enough.
	domStar, dowStar bool
}

// parseCronPattern parses a five-field cron expression or a macro.
func parseCronPattern(expr string) (*cronPattern, error) {
	text := strings.TrimSpace(expr)
	if text == "" {
		return nil, fieldErr("cron", "", "expression is empty")
	}
	if strings.HasPrefix(text, "@") {
		switch macro := strings.ToLower(text); {
		case cronMacros[macro] != "":
			text = cronMacros[macro]
		case strings.HasPrefix(macro, "@every"):
			return nil, fieldErr("cron", expr, "@every is not a cron macro; use an interval schedule")
		case macro == "@reboot":
			return nil, fieldErr("cron", expr, "@reboot is not a time-based schedule")
		default:
			return nil, fieldErr("cron", expr, "unknown macro; use @yearly, @monthly, @weekly, @daily or @hourly")
		}
	}
	parts := strings.Fields(text)
	if len(parts) != len(cronFields) {
		return nil, fieldErr("cron", expr,
			"want 5 fields (minute hour day-of-month month day-of-week), got %d", len(parts))
	}
	var p cronPattern
	sets := [5]*uint64{&p.minute, &p.hour, &p.dom, &p.month, &p.dow}
	for i, part := range parts {
		set, err := parseCronField(cronFields[i], part)
		if err != nil {
			return nil, err
		}
		*sets[i] = set
	}
	// Sunday may be written 0 or 7; keep it in bit 0 only.
	if p.dow&(1<<7) != 0 {
		p.dow = p.dow&^(1<<7) | 1
	}
	p.domStar = strings.HasPrefix(parts[2], "*")
	p.dowStar = strings.HasPrefix(parts[4], "*")
	if _, ok := p.next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok {
		return nil, fieldErr("cron", expr, "never fires: no month has the day of month it names")
	}
	return &p, nil
}

// parseCronField parses one field: a comma-separated list of "*", values,
// ranges "a-b", and steps "*/n", "a-b/n" or "a/n" (from a to the maximum).
func parseCronField(f cronField, text string) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return 0, fieldErr(f.name, text, "empty list item")
		}
		rangeText, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || !isDigits(stepText) {
				return 0, fieldErr(f.name, text, "step %q is not a positive number", stepText)
			}
			if n < 1 || n > f.max-f.min+1 {
				return 0, fieldErr(f.name, text, "step %d is out of range 1-%d", n, f.max-f.min+1)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch loText, hiText, isRange := strings.Cut(rangeText, "-"); {
		case rangeText == "*":
		case isRange:
			var err error
			if lo, err = parseCronValue(f, text, loText); err != nil {
				return 0, err
			}
			if hi, err = parseCronValue(f, text, hiText); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fieldErr(f.name, text, "range %s starts after it ends", rangeText)
			}
		default:
			v, err := parseCronValue(f, text, rangeText)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// parseCronValue parses a number or, where the field allows, a name.
func parseCronValue(f cronField, field, text string) (int, error) {
	if v, ok := f.names[strings.ToUpper(text)]; ok {
		return v, nil
	}
	if text == "" {
		return 0, fieldErr(f.name, field, "missing value")
	}
	if !isDigits(text) {
		if f.names != nil {
			return 0, fieldErr(f.name, field, "%q is neither a number nor a known name", text)
		}
		return 0, fieldErr(f.name, field, "%q is not a number", text)
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < f.min || v > f.max {
		return 0, fieldErr(f.name, field, "value %s is out of range %d-%d", text, f.min, f.max)
	}
	return v, nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// dayMatches reports whether the date of reading r matches the day fields.
func (p *cronPattern) dayMatches(r time.Time) bool {
	dom := p.dom&(1<<uint(r.Day())) != 0
	dow := p.dow&(1<<uint(r.Weekday())) != 0
	if p.domStar || p.dowStar {
		return dom && dow
	}
	return dom || dow
}

// matches reports whether reading r matches every field.
func (p *cronPattern) matches(r time.Time) bool {
	return r.Second() == 0 && r.Nanosecond() == 0 &&
		p.month&(1<<uint(r.Month())) != 0 && p.dayMatches(r) &&
		p.hour&(1<<uint(r.Hour())) != 0 && p.minute&(1<<uint(r.Minute())) != 0
}

// subHourly reports whether the pattern can match more than once an hour.
func (p *cronPattern) subHourly() bool {
	return bits.OnesCount64(p.minute) > 1
}

// next returns the first reading at or after w that matches.
func (p *cronPattern) next(w time.Time) (time.Time, bool) {
	if t := w.Truncate(time.Minute); !t.Equal(w) {
		w = t.Add(time.Minute)
	}
	limit := w.AddDate(cronHorizon, 0, 0)
	for !w.After(limit) {
		y, m, d := w.Date()
		if p.month&(1<<uint(m)) == 0 {
			w = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !p.dayMatches(w) {
			w = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		h, ok := nextBit(p.hour, w.Hour())
		if !ok {
			w = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		minute := 0
		if h == w.Hour() {
			minute = w.Minute()
		}
		mi, ok := nextBit(p.minute, minute)
		if !ok {
			w = time.Date(y, m, d, h+1, 0, 0, 0, time.UTC)
			continue
		}
		return time.Date(y, m, d, h, mi, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

// nextBit returns the smallest value at or after from whose bit is set.
func nextBit(set uint64, from int) (int, bool) {
	if from >= 64 {
		return 0, false
	}
	rest := set >> uint(from)
	if rest == 0 {
		return 0, false
	}
	return from + bits.TrailingZeros64(rest), true
}
