package zic

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Year bounds. zic accepts any signed year; this package keeps years within
// ±maxAbsYear so that every instant it computes fits comfortably in an int64.
const (
	maxAbsYear = 1_000_000
	// MinYear is the value of [Rule.From] or [Rule.To] for the word "minimum".
	MinYear = math.MinInt32
	// MaxYear is the value of [Rule.From] or [Rule.To] for the word "maximum".
	MaxYear = math.MaxInt32
)

// maxAbsHours bounds the hour part of a time field (zic allows "260:00"); larger
// values are rejected so that arithmetic on them cannot overflow.
const maxAbsHours = 100_000

// maxLineBytes is zic's own limit on the length of an input line.
const maxLineBytes = 511

var (
	errUnterminatedQuote = errors.New("unterminated double quote")
	errEmptyTime         = errors.New("empty time")
)

// isSpace reports whether c is one of the white-space characters zic separates
// fields with. Unicode spaces are deliberately not separators, as in zic.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// splitFields strips a comment and splits a line into fields. A double quote
// toggles quoting; quoted white space and '#' belong to the field and the quotes
// themselves are dropped.
func splitFields(line string) ([]string, error) {
	var (
		fields  []string
		cur     strings.Builder
		inField bool
		quoted  bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted = !quoted
			inField = true
		case quoted:
			cur.WriteByte(c)
		case c == '#':
			i = len(line)
		case isSpace(c):
			if inField {
				fields = append(fields, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteByte(c)
			inField = true
		}
	}
	if quoted {
		return nil, errUnterminatedQuote
	}
	if inField {
		fields = append(fields, cur.String())
	}
	return fields, nil
}

// quoteField returns s in a form splitFields reads back as the single field s.
func quoteField(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return r == '#' || (r < 0x80 && isSpace(byte(r)))
	}) {
		return `"` + s + `"`
	}
	return s
}

// asciiLower lowers ASCII letters only; zic's names are ASCII and Unicode case
// folding would let characters such as the Kelvin sign match "k".
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// lookupWord finds word in table the way zic does: an exact case-insensitive
// match wins, otherwise word must be a prefix of exactly one entry. It returns
// the entry's index.
func lookupWord(word string, table []string) (int, bool) {
	if word == "" {
		return 0, false
	}
	w := asciiLower(word)
	found := -1
	for i, entry := range table {
		e := asciiLower(entry)
		if e == w {
			return i, true
		}
		if strings.HasPrefix(e, w) {
			if found >= 0 {
				return 0, false
			}
			found = i
		}
	}
	return found, found >= 0
}

var monthNames = []string{
	"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December",
}

// weekdayNames is indexed like time.Weekday.
var weekdayNames = []string{
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
}

func parseMonth(s string) (time.Month, error) {
	i, ok := lookupWord(s, monthNames)
	if !ok {
		return 0, fmt.Errorf("invalid month name %q", s)
	}
	return time.Month(i + 1), nil
}

func parseWeekday(s string) (time.Weekday, error) {
	i, ok := lookupWord(s, weekdayNames)
	if !ok {
		return 0, fmt.Errorf("invalid weekday name %q", s)
	}
	return time.Weekday(i), nil
}

// parseInt parses a decimal integer with an optional sign, rejecting values whose
// magnitude exceeds limit.
func parseInt(s string, limit int64) (int64, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > limit || n < -limit {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return n, nil
}

func parseYear(s string) (int, error) {
	n, err := parseInt(s, maxAbsYear)
	if err != nil {
		return 0, fmt.Errorf("invalid year %q", s)
	}
	return int(n), nil
}

// fromYearWords and toYearWords are the words zic accepts in a rule's FROM and
// TO fields.
var (
	fromYearWords = []string{"minimum", "maximum"}
	toYearWords   = []string{"minimum", "maximum", "only"}
)

func parseFromYear(s string) (int, error) {
	if i, ok := lookupWord(s, fromYearWords); ok {
		return [...]int{MinYear, MaxYear}[i], nil
	}
	return parseYear(s)
}

func parseToYear(s string, from int) (int, error) {
	if i, ok := lookupWord(s, toYearWords); ok {
		return [...]int{MinYear, MaxYear, from}[i], nil
	}
	return parseYear(s)
}

// parseHMS parses [-]h[:mm[:ss[.frac]]] or "-" (zero) into whole seconds,
// rounding a fraction to the nearest second with ties to even, as zic does.
func parseHMS(s string) (int64, error) {
	if s == "" {
		return 0, errEmptyTime
	}
	if s == "-" {
		return 0, nil
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	parts := strings.Split(body, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	hours, err := parseUnsigned(parts[0], maxAbsHours)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	total := hours * 3600
	if len(parts) > 1 {
		mins, err := parseUnsigned(parts[1], 59)
		if err != nil {
			return 0, fmt.Errorf("invalid minutes in %q", s)
		}
		total += mins * 60
	}
	if len(parts) > 2 {
		secs, err := parseSeconds(parts[2])
		if err != nil {
			return 0, fmt.Errorf("invalid seconds in %q", s)
		}
		total += secs
	}
	if neg {
		total = -total
	}
	return total, nil
}

func parseUnsigned(s string, limit int64) (int64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > limit {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return n, nil
}

// parseSeconds parses ss[.frac] with 0 <= ss <= 59 and rounds half to even, so
// "59.5" becomes 60 just as zic would store it.
func parseSeconds(s string) (int64, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	secs, err := parseUnsigned(whole, 59)
	if err != nil {
		return 0, err
	}
	if !hasFrac {
		return secs, nil
	}
	if frac == "" || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("invalid fraction %q", s)
	}
	first := frac[0] - '0'
	rest := strings.TrimRight(frac[1:], "0")
	switch {
	case first > 5, first == 5 && rest != "", first == 5 && secs%2 == 1:
		secs++
	}
	return secs, nil
}

// TimeKind says which clock a time of day is read on.
type TimeKind uint8

// The clocks a time of day can refer to.
const (
	// Wall is local wall-clock time, daylight saving included (suffix w or none).
	Wall TimeKind = iota
	// Standard is local standard time, without daylight saving (suffix s).
	Standard
	// Universal is UT (suffixes u, g and z).
	Universal
)

// TimeOfDay is a rule's AT field or the time part of a zone's UNTIL: an offset
// from 00:00 of a day, which may be negative or exceed 24 hours, read on a clock.
type TimeOfDay struct {
	Offset time.Duration
	Kind   TimeKind
}

func parseTimeOfDay(s string) (TimeOfDay, error) {
	kind := Wall
	if s != "" {
		switch s[len(s)-1] {
		case 'w':
			s = s[:len(s)-1]
		case 's':
			kind, s = Standard, s[:len(s)-1]
		case 'u', 'g', 'z':
			kind, s = Universal, s[:len(s)-1]
		}
	}
	secs, err := parseHMS(s)
	if err != nil {
		return TimeOfDay{}, err
	}
	return TimeOfDay{Offset: time.Duration(secs) * time.Second, Kind: kind}, nil
}

// String formats t the way it would be written in zic input.
func (t TimeOfDay) String() string {
	return formatHMS(t.Offset) + [...]string{"", "s", "u"}[t.Kind]
}

// parseSave parses a SAVE amount with its optional s (standard) or d (daylight)
// suffix. Without a suffix, zero is standard time and anything else is daylight
// saving time.
func parseSave(s string) (time.Duration, bool, error) {
	isDST, explicit := false, false
	if s != "" {
		switch s[len(s)-1] {
		case 's':
			explicit, s = true, s[:len(s)-1]
		case 'd':
			isDST, explicit, s = true, true, s[:len(s)-1]
		}
	}
	secs, err := parseHMS(s)
	if err != nil {
		return 0, false, err
	}
	if !explicit {
		isDST = secs != 0
	}
	return time.Duration(secs) * time.Second, isDST, nil
}

func formatSave(save time.Duration, isDST bool) string {
	switch {
	case isDST && save == 0:
		return formatHMS(save) + "d"
	case !isDST && save != 0:
		return formatHMS(save) + "s"
	}
	return formatHMS(save)
}

// formatHMS formats whole seconds as [-]h[:mm[:ss]], omitting zero tails.
func formatHMS(d time.Duration) string {
	secs := int64(d / time.Second)
	sign := ""
	if secs < 0 {
		sign, secs = "-", -secs
	}
	h, m, s := secs/3600, secs/60%60, secs%60
	switch {
	case s != 0:
		return fmt.Sprintf("%s%d:%02d:%02d", sign, h, m, s)
	case m != 0:
		return fmt.Sprintf("%s%d:%02d", sign, h, m)
	}
	return fmt.Sprintf("%s%d", sign, h)
}

// DayKind says how a [Day] picks a day of the month.
type DayKind uint8

// The forms of a rule's ON field.
const (
	// DayOfMonth is a plain day number such as "5".
	DayOfMonth DayKind = iota
	// LastWeekday is the last given weekday of the month, such as "lastSun".
	LastWeekday
	// WeekdayOnOrAfter is the first given weekday on or after Num, such as "Sun>=8".
	WeekdayOnOrAfter
	// WeekdayOnOrBefore is the last given weekday on or before Num, such as "Sun<=25".
	WeekdayOnOrBefore
)

// Day is a rule's ON field or the day part of a zone's UNTIL.
type Day struct {
	Kind DayKind
	// Num is the day of the month for DayOfMonth and the bound for the
	// weekday-relative forms; it is unused for LastWeekday.
	Num int
	// Weekday is unused for DayOfMonth.
	Weekday time.Weekday
}

func parseDay(s string) (Day, error) {
	if rest, ok := strings.CutPrefix(asciiLower(s), "last"); ok && rest != "" {
		wd, err := parseWeekday(s[len("last"):])
		if err != nil {
			return Day{}, fmt.Errorf("invalid day %q: %w", s, err)
		}
		return Day{Kind: LastWeekday, Weekday: wd}, nil
	}
	for _, op := range []struct {
		sep  string
		kind DayKind
	}{{">=", WeekdayOnOrAfter}, {"<=", WeekdayOnOrBefore}} {
		name, num, ok := strings.Cut(s, op.sep)
		if !ok {
			continue
		}
		wd, err := parseWeekday(name)
		if err != nil {
			return Day{}, fmt.Errorf("invalid day %q: %w", s, err)
		}
		n, err := parseUnsigned(num, 31)
		if err != nil || n < 1 {
			return Day{}, fmt.Errorf("invalid day number in %q", s)
		}
		return Day{Kind: op.kind, Num: int(n), Weekday: wd}, nil
	}
	n, err := parseUnsigned(s, 31)
	if err != nil || n < 1 {
		return Day{}, fmt.Errorf("invalid day %q", s)
	}
	return Day{Kind: DayOfMonth, Num: int(n)}, nil
}

// String formats d the way it would be written in zic input.
func (d Day) String() string {
	wd := weekdayNames[d.Weekday][:3]
	switch d.Kind {
	case LastWeekday:
		return "last" + wd
	case WeekdayOnOrAfter:
		return fmt.Sprintf("%s>=%d", wd, d.Num)
	case WeekdayOnOrBefore:
		return fmt.Sprintf("%s<=%d", wd, d.Num)
	}
	return strconv.Itoa(d.Num)
}

// unixDay returns the day d picks in month m of year y, as days since
// 1970-01-01. The weekday-relative forms may land in a neighbouring month, as
// zic allows ("Oct Sun>=31").
func (d Day) unixDay(y int, m time.Month) int64 {
	switch d.Kind {
	case LastWeekday:
		last := civilDay(y, m+1, 0)
		return last - int64((weekdayOf(last)-d.Weekday+7)%7)
	case WeekdayOnOrAfter:
		first := civilDay(y, m, d.Num)
		return first + int64((d.Weekday-weekdayOf(first)+7)%7)
	case WeekdayOnOrBefore:
		last := civilDay(y, m, d.Num)
		return last - int64((weekdayOf(last)-d.Weekday+7)%7)
	}
	return civilDay(y, m, d.Num)
}

// civilDay returns the days since 1970-01-01 of a proleptic Gregorian date,
// normalising an out-of-range month or day the way time.Date does.
func civilDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
}

// weekdayOf returns the weekday of a day counted from 1970-01-01, a Thursday.
func weekdayOf(day int64) time.Weekday {
	return time.Weekday(((day % 7) + 7 + int64(time.Thursday)) % 7)
}

const secondsPerDay = 86400
