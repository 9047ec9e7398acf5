package zic

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	h := time.Hour
	tests := []struct {
		name    string
		text    string
		want    Line
		wantErr string
	}{
		{name: "blank", text: "   \t", want: Line{Kind: BlankLine}},
		{name: "comment", text: "# version 2025b", want: Line{Kind: BlankLine}},
		{
			name: "compact rule with lastSu and universal time",
			text: "R E 1981 ma - Mar lastSu 1u 1 S",
			want: Line{Kind: RuleLine, Rule: Rule{
				Name: "E", From: 1981, To: MaxYear, Month: time.March,
				Day: Day{Kind: LastWeekday, Weekday: time.Sunday},
				At:  TimeOfDay{Offset: h, Kind: Universal}, Save: h, IsDST: true, Letters: "S",
			}},
		},
		{
			name: "long-form rule with Sun>=8, only and standard time",
			text: "Rule\tUS\t2007\tonly\t-\tMarch\tSun>=8\t2:00s\t1:00d\tD # comment",
			want: Line{Kind: RuleLine, Rule: Rule{
				Name: "US", From: 2007, To: 2007, Month: time.March,
				Day: Day{Kind: WeekdayOnOrAfter, Num: 8, Weekday: time.Sunday},
				At:  TimeOfDay{Offset: 2 * h, Kind: Standard}, Save: h, IsDST: true, Letters: "D",
			}},
		},
		{
			name: "negative save, plain day, wall time and no letters",
			text: "R IE 1971 o - O 31 2u -1 -",
			want: Line{Kind: RuleLine, Rule: Rule{
				Name: "IE", From: 1971, To: 1971, Month: time.October,
				Day: Day{Kind: DayOfMonth, Num: 31},
				At:  TimeOfDay{Offset: 2 * h, Kind: Universal}, Save: -h, IsDST: true,
			}},
		},
		{
			name: "Sa<=N, fractional seconds round half to even, explicit standard save",
			text: "R X 1990 1995 - S Sa<=25 0:0:2.5 0:30s -",
			want: Line{Kind: RuleLine, Rule: Rule{
				Name: "X", From: 1990, To: 1995, Month: time.September,
				Day: Day{Kind: WeekdayOnOrBefore, Num: 25, Weekday: time.Saturday},
				At:  TimeOfDay{Offset: 2 * time.Second}, Save: 30 * time.Minute,
			}},
		},
		{
			name: "zone with named rules and a full UNTIL",
			text: "Z America/New_York -4:56:2 - LMT 1883 N 18 17u",
			want: Line{Kind: ZoneLine, ZoneName: "America/New_York", Era: Era{
				StdOff: -(4*h + 56*time.Minute + 2*time.Second), Rules: NoRules, Format: "LMT",
				Until: &Until{
					Year: 1883, Month: time.November, Day: Day{Kind: DayOfMonth, Num: 18},
					At: TimeOfDay{Offset: 17 * h, Kind: Universal},
				},
			}},
		},
		{
			name: "continuation with fixed save and UNTIL year only",
			text: "1 1 CEST 1945",
			want: Line{Kind: ContinuationLine, Era: Era{
				StdOff: h, Rules: FixedSave, Save: h, IsDST: true, Format: "CEST",
				Until: &Until{Year: 1945, Month: time.January, Day: Day{Kind: DayOfMonth, Num: 1}},
			}},
		},
		{
			name: "last continuation with a rule set and lastSu in UNTIL absent",
			text: "-5 u E%sT",
			want: Line{Kind: ContinuationLine, Era: Era{
				StdOff: -5 * h, Rules: NamedRules, RuleName: "u", Format: "E%sT",
			}},
		},
		{
			name: "UNTIL with a weekday-relative day",
			text: "2 E EE%sT 2011 Mar lastSu 1u",
			want: Line{Kind: ContinuationLine, Era: Era{
				StdOff: 2 * h, Rules: NamedRules, RuleName: "E", Format: "EE%sT",
				Until: &Until{
					Year: 2011, Month: time.March, Day: Day{Kind: LastWeekday, Weekday: time.Sunday},
					At: TimeOfDay{Offset: h, Kind: Universal},
				},
			}},
		},
		{
			name: "link",
			text: "L Europe/Zurich Europe/Vaduz",
			want: Line{Kind: LinkLine, Link: Link{Target: "Europe/Zurich", Name: "Europe/Vaduz"}},
		},
		{
			name: "quoted format keeps a space and a sharp",
			text: `Z Etc/Test 0 - "A #B"`,
			want: Line{Kind: ZoneLine, ZoneName: "Etc/Test", Era: Era{Format: "A #B"}},
		},
		{name: "unknown keyword", text: "Leap 2016 Dec 31 23:59:60 + S", wantErr: `unknown line type "Leap"`},
		{name: "ambiguous month", text: "R X 1990 o - Ju 1 0 0 -", wantErr: `invalid month name "Ju"`},
		{name: "ambiguous weekday", text: "R X 1990 o - Jun S>=1 0 0 -", wantErr: `invalid weekday name "S"`},
		{name: "day beyond month", text: "R X 1990 o - F 30 0 0 -", wantErr: "day 30 does not exist in February"},
		{name: "rule with too few fields", text: "R X 1990 o - Jun 1 0 0", wantErr: "rule line has 9 fields, want 10"},
		{name: "FROM after TO", text: "R X 1999 1990 - Jun 1 0 0 -", wantErr: "is after TO year"},
		{name: "obsolete TYPE", text: "R X 1990 o even Jun 1 0 0 -", wantErr: "rule TYPE"},
		{name: "bad minutes", text: "R X 1990 o - Jun 1 2:60 0 -", wantErr: "invalid minutes"},
		{name: "bad rule name", text: "R 9X 1990 o - Jun 1 0 0 -", wantErr: "invalid rule name"},
		{name: "zone without name", text: "Z", wantErr: "zone line has no name"},
		{name: "zone name with dot-dot", text: "Z Europe/../x 0 - X", wantErr: "invalid name"},
		{name: "zone with too many fields", text: "Z A/B 0 - X 1990 Jan 1 0 extra", wantErr: "want 3 to 7"},
		{name: "bad format directive", text: "Z A/B 0 - X%d", wantErr: "only %s and %z"},
		{name: "format mixes %z and slash", text: "Z A/B 0 - %z/X", wantErr: "single '/'"},
		{name: "bad STDOFF", text: "1x - X", wantErr: "zone STDOFF"},
		{name: "unterminated quote", text: `Z A/B 0 - "X`, wantErr: "unterminated double quote"},
		{name: "NUL byte", text: "Z A/B 0 - X\x00", wantErr: "NUL byte"},
		{name: "link with one name", text: "L Europe/Zurich", wantErr: "link line has 2 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLine(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLine(%q) error = %v, want one containing %q", tt.text, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLine(%q): %v", tt.text, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLine(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
			again, err := ParseLine(got.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", got.String(), err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("String() %q does not round-trip (-first +second):\n%s", got.String(), diff)
			}
		})
	}
}

func TestDayUnixDay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		day   string
		year  int
		month time.Month
		want  string
	}{
		{"lastSu", 2025, time.March, "2025-03-30"},
		{"lastSu", 2025, time.October, "2025-10-26"},
		{"Su>=8", 2025, time.March, "2025-03-09"},
		{"Su>=1", 2025, time.November, "2025-11-02"},
		{"Sa<=25", 2024, time.February, "2024-02-24"},
		{"Su>=31", 2024, time.October, "2024-11-03"}, // spills into the next month
		{"Th<=1", 2025, time.May, "2025-05-01"},
		{"lastTh", 2024, time.February, "2024-02-29"},
		{"29", 2024, time.February, "2024-02-29"},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			t.Parallel()
			d, err := parseDay(tt.day)
			if err != nil {
				t.Fatalf("parseDay(%q): %v", tt.day, err)
			}
			got := time.Unix(d.unixDay(tt.year, tt.month)*secondsPerDay, 0).UTC().Format(time.DateOnly)
			if got != tt.want {
				t.Errorf("%s in %s %d = %s, want %s", tt.day, tt.month, tt.year, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		"# version 2099z",                    // 1
		"R T 2000 ma - Mar lastSu 1u 1 S",    // 2
		"R T 2000 ma - O lastSu 1u 0 -",      // 3
		"Z Good/Zone 1 - LMT 1900",           // 4
		"1 T CE%sT",                          // 5
		"L Good/Zone Good/Alias",             // 6
		"2 - XX 1990",                        // 7: continuation without a zone above
		"Z Bad/Cont 1 - LMT 1900",            // 8
		"1 T CE%sT 19x0",                     // 9: malformed, drops Bad/Cont
		"1 T CE%sT",                          // 10: skipped with the broken zone
		"Z Bad/Rules 1 Missing CE%sT",        // 11: undefined rule set
		"L Nowhere/Zone Bad/Link",            // 12: link to nothing
		"Z Bad/Open 0 - X 1990",              // 13: UNTIL but no continuation
		"Z Good/Zone 0 - Y",                  // 14: duplicate
		"Z Bad/Order 0 - X 1990",             // 15
		"0 - Y 1980",                         // 16: UNTIL goes backwards
		"0 - Z",                              // 17
		"Bogus line",                         // 18
		"Z Good/Fixed -3:30 - %z # trailing", // 19
		"",
	}, "\n")
	db, errs, err := Parse(strings.NewReader(input))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var gotErrs []string
	for _, e := range errs {
		gotErrs = append(gotErrs, e.Error())
	}
	wantErrs := []string{
		"line 7: continuation line without a zone line with UNTIL above it",
		`line 9: zone Bad/Cont dropped: zone UNTIL: invalid year "19x0"`,
		`line 11: zone Bad/Rules dropped: rule set "Missing" is not defined`,
		"line 12: link Bad/Link points at Nowhere/Zone, which is not a valid zone",
		"line 13: zone Bad/Open dropped: no continuation line follows its UNTIL",
		"line 14: zone Good/Zone is defined more than once",
		"line 16: zone Bad/Order dropped: UNTIL is not after the previous line's UNTIL",
		`line 18: unknown line type "Bogus"`,
	}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("line errors mismatch (-want +got):\n%s", diff)
	}
	if db.Version != "2099z" {
		t.Errorf("Version = %q, want 2099z", db.Version)
	}
	if db.DataLines != 18 {
		t.Errorf("DataLines = %d, want 18", db.DataLines)
	}
	var zones []string
	for name := range db.Zones {
		zones = append(zones, name)
	}
	if diff := cmp.Diff([]string{"Good/Fixed", "Good/Zone"}, zones, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("zones mismatch (-want +got):\n%s", diff)
	}
	if _, ok := db.Lookup("Good/Alias"); !ok || len(db.Links) != 1 {
		t.Errorf("links = %v, want only Good/Alias", db.Links)
	}
	if n := len(db.Rules["T"]); n != 2 {
		t.Errorf("rule set T has %d rules, want 2", n)
	}
}
