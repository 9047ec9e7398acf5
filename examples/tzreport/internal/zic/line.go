package zic

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule is one Rule line: a daylight-saving change that recurs every year from
// From to To inclusive.
type Rule struct {
	// Name is the rule set the line belongs to.
	Name string
	// From and To are the first and last years, or [MinYear] and [MaxYear] for
	// the words "minimum" and "maximum".
	From, To int
	Month    time.Month
	Day      Day
	At       TimeOfDay
	// Save is added to standard time while the rule is in effect; it may be
	// negative (Ireland's winter time).
	Save time.Duration
	// IsDST reports whether the rule's time counts as daylight saving time.
	IsDST bool
	// Letters replace "%s" in a zone's FORMAT; "-" in the input is stored as "".
	Letters string
	// Line is the 1-based line number in the parsed file, 0 for [ParseLine].
	Line int
}

// RulesKind says what a zone line's RULES field holds.
type RulesKind uint8

// The forms of a zone line's RULES field.
const (
	// NoRules ("-") means standard time always applies.
	NoRules RulesKind = iota
	// FixedSave means a constant amount is added to standard time.
	FixedSave
	// NamedRules refers to the Rule lines of a rule set.
	NamedRules
)

// Era is one zone or continuation line: the rules that apply from the end of
// the previous era (or the beginning of time) until Until.
type Era struct {
	// StdOff is added to UT to get local standard time.
	StdOff time.Duration
	Rules  RulesKind
	// RuleName is the rule set for NamedRules.
	RuleName string
	// Save and IsDST describe the constant amount for FixedSave.
	Save  time.Duration
	IsDST bool
	// Format is the abbreviation format, such as "CE%sT", "%z" or "GMT/BST".
	Format string
	// Until ends the era; it is nil for the last era of a zone.
	Until *Until
	// Line is the 1-based line number in the parsed file, 0 for [ParseLine].
	Line int
}

// Until is the UNTIL field of a zone line: when the era ends, read on the
// clock named by At.Kind (wall-clock time by default).
type Until struct {
	Year  int
	Month time.Month
	Day   Day
	At    TimeOfDay
}

// localSeconds returns u as seconds since 1970-01-01 00:00 on u's own clock.
func (u Until) localSeconds() int64 {
	return u.Day.unixDay(u.Year, u.Month)*secondsPerDay + int64(u.At.Offset/time.Second)
}

// Zone is a named time zone: its eras in order.
type Zone struct {
	Name string
	Eras []Era
	// Line is the 1-based line number of the Zone line.
	Line int
}

// Link makes Name another name for the zone Target.
type Link struct {
	Target, Name string
	// Line is the 1-based line number in the parsed file, 0 for [ParseLine].
	Line int
}

// LineKind says what kind of line [ParseLine] found.
type LineKind uint8

// The kinds of input line.
const (
	// BlankLine is empty after comments are stripped.
	BlankLine LineKind = iota
	RuleLine
	ZoneLine
	// ContinuationLine carries the next era of the zone above it.
	ContinuationLine
	LinkLine
)

// Line is one parsed input line.
type Line struct {
	Kind LineKind
	// Rule is set for RuleLine.
	Rule Rule
	// ZoneName is set for ZoneLine.
	ZoneName string
	// Era is set for ZoneLine and ContinuationLine.
	Era Era
	// Link is set for LinkLine.
	Link Link
}

// lineKeywords are the first fields of the line types of zic's main input;
// Leap and Expires lines belong to a different file.
var lineKeywords = []string{"Rule", "Zone", "Link"}

// ParseLine parses one line of zic input. A line whose first field is not a
// keyword is read as a zone continuation line; whether one may appear there
// depends on the lines before it, which [Parse] checks. On error the returned
// Line still has its Kind set when the kind could be told, so a caller can
// skip the continuation lines of a zone whose first line was malformed.
func ParseLine(text string) (Line, error) {
	if strings.IndexByte(text, 0) >= 0 {
		return Line{}, errors.New("line contains a NUL byte")
	}
	fields, err := splitFields(text)
	if err != nil {
		return Line{}, err
	}
	if len(fields) == 0 {
		return Line{Kind: BlankLine}, nil
	}
	first := fields[0]
	if first != "" && (first[0] == '-' || ('0' <= first[0] && first[0] <= '9')) {
		era, err := parseEra(fields)
		return Line{Kind: ContinuationLine, Era: era}, err
	}
	i, ok := lookupWord(first, lineKeywords)
	if !ok {
		return Line{}, fmt.Errorf("unknown line type %q", first)
	}
	switch lineKeywords[i] {
	case "Rule":
		r, err := parseRule(fields[1:])
		return Line{Kind: RuleLine, Rule: r}, err
	case "Zone":
		if len(fields) < 2 {
			return Line{Kind: ZoneLine}, errors.New("zone line has no name")
		}
		if err := checkName(fields[1]); err != nil {
			return Line{Kind: ZoneLine}, fmt.Errorf("zone: %w", err)
		}
		era, err := parseEra(fields[2:])
		return Line{Kind: ZoneLine, ZoneName: fields[1], Era: era}, err
	default:
		l, err := parseLink(fields[1:])
		return Line{Kind: LinkLine, Link: l}, err
	}
}

// parseRule parses the fields after the "Rule" keyword:
// NAME FROM TO TYPE IN ON AT SAVE LETTER/S.
func parseRule(f []string) (Rule, error) {
	if len(f) != 9 {
		return Rule{}, fmt.Errorf("rule line has %d fields, want 10", len(f)+1)
	}
	var (
		r   Rule
		err error
	)
	r.Name = f[0]
	if err := checkRuleName(r.Name); err != nil {
		return Rule{}, err
	}
	if r.From, err = parseFromYear(f[1]); err != nil {
		return Rule{}, fmt.Errorf("rule FROM: %w", err)
	}
	if r.To, err = parseToYear(f[2], r.From); err != nil {
		return Rule{}, fmt.Errorf("rule TO: %w", err)
	}
	if r.From > r.To {
		return Rule{}, fmt.Errorf("rule FROM year %s is after TO year %s", f[1], f[2])
	}
	if f[3] != "-" {
		return Rule{}, fmt.Errorf("rule TYPE is %q, want \"-\"", f[3])
	}
	if r.Month, err = parseMonth(f[4]); err != nil {
		return Rule{}, fmt.Errorf("rule IN: %w", err)
	}
	if r.Day, err = parseDay(f[5]); err != nil {
		return Rule{}, fmt.Errorf("rule ON: %w", err)
	}
	if err := checkDayInMonth(r.Day, r.Month); err != nil {
		return Rule{}, fmt.Errorf("rule ON: %w", err)
	}
	if r.At, err = parseTimeOfDay(f[6]); err != nil {
		return Rule{}, fmt.Errorf("rule AT: %w", err)
	}
	if r.Save, r.IsDST, err = parseSave(f[7]); err != nil {
		return Rule{}, fmt.Errorf("rule SAVE: %w", err)
	}
	if f[8] != "-" {
		r.Letters = f[8]
	}
	return r, nil
}

// parseEra parses STDOFF RULES FORMAT [UNTIL], the common part of zone and
// continuation lines.
func parseEra(f []string) (Era, error) {
	if len(f) < 3 || len(f) > 7 {
		return Era{}, fmt.Errorf("zone has %d fields after the name, want 3 to 7", len(f))
	}
	var e Era
	secs, err := parseHMS(f[0])
	if err != nil {
		return Era{}, fmt.Errorf("zone STDOFF: %w", err)
	}
	e.StdOff = time.Duration(secs) * time.Second
	switch rules := f[1]; {
	case rules == "-":
		e.Rules = NoRules
	case rules != "" && strings.ContainsRune("0123456789-+", rune(rules[0])):
		e.Rules = FixedSave
		if e.Save, e.IsDST, err = parseSave(rules); err != nil {
			return Era{}, fmt.Errorf("zone RULES: %w", err)
		}
	default:
		e.Rules, e.RuleName = NamedRules, rules
		if err := checkRuleName(rules); err != nil {
			return Era{}, fmt.Errorf("zone RULES: %w", err)
		}
	}
	e.Format = f[2]
	if err := checkFormat(e.Format); err != nil {
		return Era{}, err
	}
	if len(f) > 3 {
		u, err := parseUntil(f[3:])
		if err != nil {
			return Era{}, err
		}
		e.Until = &u
	}
	return e, nil
}

// parseUntil parses YEAR [MONTH [DAY [TIME]]]; omitted fields default to the
// earliest value.
func parseUntil(f []string) (Until, error) {
	u := Until{Month: time.January, Day: Day{Kind: DayOfMonth, Num: 1}}
	var err error
	if u.Year, err = parseYear(f[0]); err != nil {
		return Until{}, fmt.Errorf("zone UNTIL: %w", err)
	}
	if len(f) > 1 {
		if u.Month, err = parseMonth(f[1]); err != nil {
			return Until{}, fmt.Errorf("zone UNTIL: %w", err)
		}
	}
	if len(f) > 2 {
		if u.Day, err = parseDay(f[2]); err != nil {
			return Until{}, fmt.Errorf("zone UNTIL: %w", err)
		}
		if err := checkDayInMonth(u.Day, u.Month); err != nil {
			return Until{}, fmt.Errorf("zone UNTIL: %w", err)
		}
	}
	if len(f) > 3 {
		if u.At, err = parseTimeOfDay(f[3]); err != nil {
			return Until{}, fmt.Errorf("zone UNTIL: %w", err)
		}
	}
	return u, nil
}

func parseLink(f []string) (Link, error) {
	if len(f) != 2 {
		return Link{}, fmt.Errorf("link line has %d fields, want 3", len(f)+1)
	}
	for _, name := range f {
		if err := checkName(name); err != nil {
			return Link{}, fmt.Errorf("link: %w", err)
		}
	}
	return Link{Target: f[0], Name: f[1]}, nil
}

// daysInMonth is the longest length of each month, February in a leap year.
var daysInMonth = [...]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func checkDayInMonth(d Day, m time.Month) error {
	if d.Kind != LastWeekday && d.Num > daysInMonth[m-1] {
		return fmt.Errorf("day %d does not exist in %s", d.Num, m)
	}
	return nil
}

// checkRuleName applies zic's rule: a rule name must not start with a digit,
// '-' or '+', so that it cannot be mistaken for an amount of time.
func checkRuleName(name string) error {
	if name == "" || strings.ContainsRune("0123456789-+", rune(name[0])) {
		return fmt.Errorf("invalid rule name %q", name)
	}
	return nil
}

// checkName accepts the zone and link names the tz database uses: slash-separated
// components of ASCII letters, digits, '.', '_', '-' and '+', none of them empty,
// "." or "..". zic itself accepts more and only warns.
func checkName(name string) error {
	for comp := range strings.SplitSeq(name, "/") {
		if comp == "" || comp == "." || comp == ".." {
			return fmt.Errorf("invalid name %q", name)
		}
		for _, c := range []byte(comp) {
			ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				strings.IndexByte("._-+", c) >= 0
			if !ok {
				return fmt.Errorf("invalid character %q in name %q", c, name)
			}
		}
	}
	return nil
}

// checkFormat accepts a FORMAT with at most one "%s" or "%z" directive, or a
// single '/' separating the standard and daylight abbreviations.
func checkFormat(f string) error {
	if f == "" {
		return errors.New("zone FORMAT is empty")
	}
	directives := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 == len(f) || (f[i+1] != 's' && f[i+1] != 'z') {
			return fmt.Errorf("zone FORMAT %q: only %%s and %%z are allowed", f)
		}
		directives++
		i++
	}
	slashes := strings.Count(f, "/")
	if directives > 1 || slashes > 1 || (directives > 0 && slashes > 0) {
		return fmt.Errorf("zone FORMAT %q: use one of %%s, %%z or a single '/'", f)
	}
	return nil
}

// String formats l as zic input that [ParseLine] reads back to an equal Line
// (line numbers aside).
func (l Line) String() string {
	switch l.Kind {
	case RuleLine:
		r := l.Rule
		letters := r.Letters
		if letters == "" {
			letters = "-"
		}
		return strings.Join([]string{
			"Rule", quoteField(r.Name), formatYear(r.From), formatToYear(r.From, r.To), "-",
			monthNames[r.Month-1][:3], r.Day.String(), r.At.String(),
			formatSave(r.Save, r.IsDST), quoteField(letters),
		}, "\t")
	case ZoneLine:
		return "Zone\t" + l.ZoneName + "\t" + l.Era.fields()
	case ContinuationLine:
		return "\t\t" + l.Era.fields()
	case LinkLine:
		return "Link\t" + l.Link.Target + "\t" + l.Link.Name
	}
	return ""
}

func (e Era) fields() string {
	rules := "-"
	switch e.Rules {
	case FixedSave:
		rules = formatSave(e.Save, e.IsDST)
	case NamedRules:
		rules = quoteField(e.RuleName)
	}
	s := formatHMS(e.StdOff) + "\t" + rules + "\t" + quoteField(e.Format)
	if u := e.Until; u != nil {
		s += fmt.Sprintf("\t%d %s %s %s", u.Year, monthNames[u.Month-1][:3], u.Day, u.At)
	}
	return s
}

func formatYear(y int) string {
	switch y {
	case MinYear:
		return "minimum"
	case MaxYear:
		return "maximum"
	}
	return strconv.Itoa(y)
}

func formatToYear(from, to int) string {
	if to == from {
		return "only"
	}
	return formatYear(to)
}
