package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRRuleGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    string
		zone    string
		dtstart string // localLayout
		from    string // localLayout; empty means just before dtstart
		n       int    // how many fires to ask for; more than want proves the end
		want    []string
	}{
		{"daily", "FREQ=DAILY", "Europe/Berlin", "2026-01-01 09:00 +01:00", "", 3,
			[]string{"2026-01-01 09:00 +01:00", "2026-01-02 09:00 +01:00", "2026-01-03 09:00 +01:00"}},
		{"daily with prefix and lower case", "rrule:freq=daily;interval=2;count=3", "Europe/Berlin", "2026-01-01 09:00 +01:00", "", 5,
			[]string{"2026-01-01 09:00 +01:00", "2026-01-03 09:00 +01:00", "2026-01-05 09:00 +01:00"}},
		{"count counts from dtstart, not from the query", "FREQ=DAILY;COUNT=3", "UTC", "2026-01-01 09:00 +00:00", "2026-01-02 12:00 +00:00", 5,
			[]string{"2026-01-03 09:00 +00:00"}},
		{"weekly on three days", "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=8;BYMINUTE=30", "Europe/Berlin", "2026-01-01 00:00 +01:00", "", 4,
			[]string{"2026-01-02 08:30 +01:00", "2026-01-05 08:30 +01:00", "2026-01-07 08:30 +01:00", "2026-01-09 08:30 +01:00"}},
		// RFC 5545 section 3.8.5.3: the effect of WKST on a biweekly rule.
		{"rfc weekly wkst mo", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", "America/New_York", "1997-08-05 09:00 -04:00", "", 5,
			[]string{"1997-08-05 09:00 -04:00", "1997-08-10 09:00 -04:00", "1997-08-19 09:00 -04:00", "1997-08-24 09:00 -04:00"}},
		{"rfc weekly wkst su", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", "America/New_York", "1997-08-05 09:00 -04:00", "", 5,
			[]string{"1997-08-05 09:00 -04:00", "1997-08-17 09:00 -04:00", "1997-08-19 09:00 -04:00", "1997-08-31 09:00 -04:00"}},
		{"weekly default day is dtstart's", "FREQ=WEEKLY", "UTC", "2026-01-01 07:00 +00:00", "", 2,
			[]string{"2026-01-01 07:00 +00:00", "2026-01-08 07:00 +00:00"}},
		{"rfc monthly first friday", "FREQ=MONTHLY;COUNT=10;BYDAY=1FR", "America/New_York", "1997-09-05 09:00 -04:00", "", 5,
			[]string{"1997-09-05 09:00 -04:00", "1997-10-03 09:00 -04:00", "1997-11-07 09:00 -05:00", "1997-12-05 09:00 -05:00",
				"1998-01-02 09:00 -05:00"}},
		{"monthly last friday", "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17;BYMINUTE=0", "UTC", "2026-01-01 00:00 +00:00", "", 3,
			[]string{"2026-01-30 17:00 +00:00", "2026-02-27 17:00 +00:00", "2026-03-27 17:00 +00:00"}},
		{"monthly every monday", "FREQ=MONTHLY;BYDAY=MO;BYMONTH=2", "UTC", "2026-01-01 06:00 +00:00", "", 5,
			[]string{"2026-02-02 06:00 +00:00", "2026-02-09 06:00 +00:00", "2026-02-16 06:00 +00:00", "2026-02-23 06:00 +00:00",
				"2027-02-01 06:00 +00:00"}},
		{"rfc monthly third day from the end", "FREQ=MONTHLY;BYMONTHDAY=-3", "America/New_York", "1997-09-28 09:00 -04:00", "", 6,
			[]string{"1997-09-28 09:00 -04:00", "1997-10-29 09:00 -05:00", "1997-11-28 09:00 -05:00", "1997-12-29 09:00 -05:00",
				"1998-01-29 09:00 -05:00", "1998-02-26 09:00 -05:00"}},
		{"rfc monthly 2nd and 15th", "FREQ=MONTHLY;BYMONTHDAY=2,15;COUNT=4", "America/New_York", "1997-09-02 09:00 -04:00", "", 5,
			[]string{"1997-09-02 09:00 -04:00", "1997-09-15 09:00 -04:00", "1997-10-02 09:00 -04:00", "1997-10-15 09:00 -04:00"}},
		// RFC 5545 lists this with DTSTART excluded, as here: a DTSTART that
		// does not match the rule is not a fire.
		{"rfc friday the 13th", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "America/New_York", "1997-09-02 09:00 -04:00", "", 5,
			[]string{"1998-02-13 09:00 -05:00", "1998-03-13 09:00 -05:00", "1998-11-13 09:00 -05:00", "1999-08-13 09:00 -04:00",
				"2000-10-13 09:00 -04:00"}},
		{"monthly on the 31st skips short months", "FREQ=MONTHLY", "UTC", "2026-01-31 12:00 +00:00", "", 3,
			[]string{"2026-01-31 12:00 +00:00", "2026-03-31 12:00 +00:00", "2026-05-31 12:00 +00:00"}},
		{"monthly every third month", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=0;BYMINUTE=0", "UTC", "2026-02-10 00:00 +00:00", "", 3,
			[]string{"2026-05-01 00:00 +00:00", "2026-08-01 00:00 +00:00", "2026-11-01 00:00 +00:00"}},
		{"hourly until utc", "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z", "America/New_York", "1997-09-02 09:00 -04:00", "", 5,
			[]string{"1997-09-02 09:00 -04:00", "1997-09-02 12:00 -04:00"}},
		{"hourly filtered by day and hour", "FREQ=HOURLY;BYDAY=SA;BYHOUR=10,11;BYMINUTE=5", "UTC", "2026-01-01 00:00 +00:00", "", 3,
			[]string{"2026-01-03 10:05 +00:00", "2026-01-03 11:05 +00:00", "2026-01-10 10:05 +00:00"}},
		{"daily filtered by month day", "FREQ=DAILY;BYMONTHDAY=1,-1;BYHOUR=6;BYMINUTE=0", "UTC", "2026-01-15 00:00 +00:00", "", 3,
			[]string{"2026-01-31 06:00 +00:00", "2026-02-01 06:00 +00:00", "2026-02-28 06:00 +00:00"}},
		{"daily until a date", "FREQ=DAILY;UNTIL=20260103", "Europe/Berlin", "2026-01-01 23:30 +01:00", "", 5,
			[]string{"2026-01-01 23:30 +01:00", "2026-01-02 23:30 +01:00", "2026-01-03 23:30 +01:00"}},
		{"daily until a local time", "FREQ=DAILY;UNTIL=20260102T090000", "Europe/Berlin", "2026-01-01 09:00 +01:00", "", 5,
			[]string{"2026-01-01 09:00 +01:00", "2026-01-02 09:00 +01:00"}},
		{"rfc minutely every 15 minutes", "FREQ=MINUTELY;INTERVAL=15;COUNT=6", "America/New_York", "1997-09-02 09:00 -04:00", "", 7,
			[]string{"1997-09-02 09:00 -04:00", "1997-09-02 09:15 -04:00", "1997-09-02 09:30 -04:00", "1997-09-02 09:45 -04:00",
				"1997-09-02 10:00 -04:00", "1997-09-02 10:15 -04:00"}},
		{"minutely in business hours", "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10;BYDAY=MO,TU,WE,TH,FR", "UTC", "2026-01-02 10:20 +00:00", "", 5,
			[]string{"2026-01-02 10:20 +00:00", "2026-01-02 10:40 +00:00", "2026-01-05 09:00 +00:00", "2026-01-05 09:20 +00:00",
				"2026-01-05 09:40 +00:00"}},
		{"daily at two minutes", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30", "UTC", "2026-01-01 00:00 +00:00", "", 3,
			[]string{"2026-01-01 09:00 +00:00", "2026-01-01 09:30 +00:00", "2026-01-02 09:00 +00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dtstart := at(t, tt.dtstart)
			s, err := ParseRRule(tt.rule, dtstart, tt.zone)
			if err != nil {
				t.Fatalf("ParseRRule: %v", err)
			}
			from := dtstart.Add(-time.Nanosecond)
			if tt.from != "" {
				from = at(t, tt.from)
			}
			var got []time.Time
			for _, f := range s.Preview(from, tt.n) {
				got = append(got, f.Time)
			}
			want := make([]time.Time, 0, len(tt.want))
			for _, w := range tt.want {
				want = append(want, at(t, w))
			}
			if diff := cmp.Diff(show(t, tt.zone, want), show(t, tt.zone, got)); diff != "" {
				t.Errorf("fires (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRRuleSeconds(t *testing.T) {
	t.Parallel()
	dtstart := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	s, err := ParseRRule("FREQ=MINUTELY;BYSECOND=0,30;COUNT=3", dtstart, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Between(dtstart.Add(-time.Second), dtstart.Add(time.Hour), 10)
	want := []time.Time{dtstart, dtstart.Add(30 * time.Second), dtstart.Add(time.Minute)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fires (-want +got):\n%s", diff)
	}
}

func TestParseRRuleBad(t *testing.T) {
	t.Parallel()
	dtstart := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		rule    string
		dtstart time.Time
		field   string
		problem string
	}{
		{"", dtstart, "rrule", "rule is empty"},
		{"RRULE:", dtstart, "rrule", "rule is empty"},
		{"FREQ=YEARLY", dtstart, "rrule FREQ", "not supported"},
		{"FREQ=SECONDLY", dtstart, "rrule FREQ", "not supported"},
		{"INTERVAL=2", dtstart, "rrule FREQ", "required"},
		{"FREQ=DAILY;BYSETPOS=1", dtstart, "rrule BYSETPOS", "not supported"},
		{"FREQ=DAILY;BYWEEKNO=1", dtstart, "rrule BYWEEKNO", "not supported"},
		{"FREQ=DAILY;BYYEARDAY=1", dtstart, "rrule BYYEARDAY", "not supported"},
		{"FREQ=DAILY;FOO=1", dtstart, "rrule FOO", "unknown part"},
		{"FREQ=DAILY;COUNT=2;UNTIL=20260105", dtstart, "rrule", "COUNT and UNTIL cannot both be given"},
		{"FREQ=DAILY;BYDAY=1MO", dtstart, "rrule BYDAY", "only allowed with FREQ=MONTHLY"},
		{"FREQ=WEEKLY;BYMONTHDAY=1", dtstart, "rrule BYMONTHDAY", "not allowed with FREQ=WEEKLY"},
		{"FREQ=DAILY;BYHOUR=24", dtstart, "rrule BYHOUR", "24 is out of range 0 to 23"},
		{"FREQ=DAILY;BYMINUTE=60", dtstart, "rrule BYMINUTE", "out of range 0 to 59"},
		{"FREQ=DAILY;BYSECOND=60", dtstart, "rrule BYSECOND", "out of range 0 to 59"},
		{"FREQ=DAILY;BYMONTHDAY=0", dtstart, "rrule BYMONTHDAY", "day 0 does not exist"},
		{"FREQ=DAILY;BYMONTHDAY=32", dtstart, "rrule BYMONTHDAY", "out of range -31 to 31"},
		{"FREQ=DAILY;BYMONTH=13", dtstart, "rrule BYMONTH", "out of range 1 to 12"},
		{"FREQ=DAILY;BYHOUR=", dtstart, "rrule BYHOUR", "is not a number"},
		{"FREQ=DAILY;BYHOUR=1,,2", dtstart, "rrule BYHOUR", "is not a number"},
		{"FREQ=MONTHLY;BYDAY=6MO", dtstart, "rrule BYDAY", "must be 1 to 5 or -5 to -1"},
		{"FREQ=MONTHLY;BYDAY=0MO", dtstart, "rrule BYDAY", "must be 1 to 5 or -5 to -1"},
		{"FREQ=DAILY;BYDAY=XX", dtstart, "rrule BYDAY", "does not end in MO"},
		{"FREQ=DAILY;BYDAY=M", dtstart, "rrule BYDAY", "not a day"},
		{"FREQ=DAILY;WKST=XX", dtstart, "rrule WKST", "want one of MO"},
		{"FREQ=DAILY;INTERVAL=0", dtstart, "rrule INTERVAL", "out of range 1 to 1000"},
		{"FREQ=DAILY;INTERVAL=x", dtstart, "rrule INTERVAL", "not a number"},
		{"FREQ=DAILY;COUNT=10001", dtstart, "rrule COUNT", "out of range 1 to 10000"},
		{"FREQ=DAILY;UNTIL=2026-01-05", dtstart, "rrule UNTIL", "want 20060102T150405Z"},
		{"FREQ=DAILY;UNTIL=20261341", dtstart, "rrule UNTIL", "want 20060102T150405Z"},
		{"FREQ=DAILY;FREQ=WEEKLY", dtstart, "rrule FREQ", "given more than once"},
		{"FREQ", dtstart, "rrule", "want NAME=VALUE"},
		{"FREQ=DAILY;", dtstart, "rrule", "want NAME=VALUE"},
		{"FREQ=DAILY;DTSTART=20260101T000000Z", dtstart, "rrule DTSTART", "given separately"},
		{"FREQ=DAILY;TZID=Europe/Berlin", dtstart, "rrule TZID", "given separately"},
		{"DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", dtstart, "rrule", "single RRULE line"},
		{"FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", dtstart, "rrule", "never fires"},
		{"FREQ=DAILY;UNTIL=20200101", dtstart, "rrule", "never fires"},
		{"FREQ=DAILY", time.Time{}, "dtstart", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRRule(tt.rule, tt.dtstart, "Europe/Berlin")
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseRRule(%q) error = %v, want a *FieldError", tt.rule, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("error = %q (field %q), want field %q with problem containing %q",
					err, fe.Field, tt.field, tt.problem)
			}
		})
	}
}
