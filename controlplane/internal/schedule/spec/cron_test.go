package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseCronGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		from string // UTC, in localLayout
		want []string
	}{
		{"0 9 * * MON-FRI", "2026-01-02 10:00 +00:00", // a Friday
			[]string{"2026-01-05 09:00 +00:00", "2026-01-06 09:00 +00:00"}},
		{"*/15 * * * *", "2026-01-01 10:07 +00:00",
			[]string{"2026-01-01 10:15 +00:00", "2026-01-01 10:30 +00:00"}},
		{"10/20 * * * *", "2026-01-01 10:00 +00:00",
			[]string{"2026-01-01 10:10 +00:00", "2026-01-01 10:30 +00:00", "2026-01-01 10:50 +00:00", "2026-01-01 11:10 +00:00"}},
		{"30 1-5/2 * * *", "2026-01-01 00:00 +00:00",
			[]string{"2026-01-01 01:30 +00:00", "2026-01-01 03:30 +00:00", "2026-01-01 05:30 +00:00", "2026-01-02 01:30 +00:00"}},
		{"0 0 1 JAN *", "2026-01-01 00:00 +00:00", []string{"2027-01-01 00:00 +00:00"}},
		{"0 0 * jan-feb sun", "2026-02-28 00:00 +00:00", []string{"2027-01-03 00:00 +00:00"}},
		// Both day fields restricted: the 13th or any Friday.
		{"0 12 13 * 5", "2026-01-01 00:00 +00:00",
			[]string{"2026-01-02 12:00 +00:00", "2026-01-09 12:00 +00:00", "2026-01-13 12:00 +00:00", "2026-01-16 12:00 +00:00"}},
		// Day of month starts with "*": a day must match both fields.
		{"0 12 */2 * 5", "2026-01-01 00:00 +00:00",
			[]string{"2026-01-09 12:00 +00:00", "2026-01-23 12:00 +00:00"}},
		{"0 0 29 2 *", "2026-01-01 00:00 +00:00", []string{"2028-02-29 00:00 +00:00", "2032-02-29 00:00 +00:00"}},
		{"5 4 * * 7", "2026-01-01 00:00 +00:00", []string{"2026-01-04 04:05 +00:00", "2026-01-11 04:05 +00:00"}},
		{"0 0 * * 5-7", "2026-01-01 00:00 +00:00",
			[]string{"2026-01-02 00:00 +00:00", "2026-01-03 00:00 +00:00", "2026-01-04 00:00 +00:00", "2026-01-09 00:00 +00:00"}},
		{"59 23 31 12 *", "2026-01-01 00:00 +00:00", []string{"2026-12-31 23:59 +00:00"}},
		{"0 0 31 * *", "2026-01-31 00:00 +00:00", []string{"2026-03-31 00:00 +00:00", "2026-05-31 00:00 +00:00"}},
		{"1,2,3 * * * *", "2026-01-01 00:02 +00:00", []string{"2026-01-01 00:03 +00:00", "2026-01-01 01:01 +00:00"}},
		{"  0   6 * * *  ", "2026-01-01 00:00 +00:00", []string{"2026-01-01 06:00 +00:00"}},
		{"@hourly", "2026-01-01 00:00 +00:00", []string{"2026-01-01 01:00 +00:00"}},
		{"@daily", "2026-01-01 00:00 +00:00", []string{"2026-01-02 00:00 +00:00"}},
		{"@midnight", "2026-01-01 00:00 +00:00", []string{"2026-01-02 00:00 +00:00"}},
		{"@weekly", "2026-01-01 00:00 +00:00", []string{"2026-01-04 00:00 +00:00"}},
		{"@monthly", "2026-01-01 00:00 +00:00", []string{"2026-02-01 00:00 +00:00"}},
		{"@YEARLY", "2026-01-01 00:00 +00:00", []string{"2027-01-01 00:00 +00:00"}},
		{"@annually", "2026-01-01 00:00 +00:00", []string{"2027-01-01 00:00 +00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			s, err := ParseCron(tt.expr, "")
			if err != nil {
				t.Fatalf("ParseCron: %v", err)
			}
			var got []time.Time
			cur := at(t, tt.from)
			for range tt.want {
				next, ok := s.Next(cur)
				if !ok {
					break
				}
				got = append(got, next)
				cur = next
			}
			want := make([]time.Time, 0, len(tt.want))
			for _, w := range tt.want {
				want = append(want, at(t, w))
			}
			if diff := cmp.Diff(show(t, "UTC", want), show(t, "UTC", got)); diff != "" {
				t.Errorf("fires (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCronBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		zone    string
		field   string
		problem string
	}{
		{"", "", "cron", "expression is empty"},
		{"   ", "", "cron", "expression is empty"},
		{"* * * *", "", "cron", "want 5 fields"},
		{"* * * * * *", "", "cron", "got 6"},
		{"60 * * * *", "", "cron minute", "value 60 is out of range 0-59"},
		{"* 24 * * *", "", "cron hour", "value 24 is out of range 0-23"},
		{"* * 0 * *", "", "cron day-of-month", "value 0 is out of range 1-31"},
		{"* * 32 * *", "", "cron day-of-month", "out of range 1-31"},
		{"* * * 13 *", "", "cron month", "value 13 is out of range 1-12"},
		{"* * * FOO *", "", "cron month", `"FOO" is neither a number nor a known name`},
		{"* * * * 8", "", "cron day-of-week", "value 8 is out of range 0-7"},
		{"* * * * MONDAY", "", "cron day-of-week", "neither a number nor a known name"},
		{"*/0 * * * *", "", "cron minute", "step 0 is out of range 1-60"},
		{"*/61 * * * *", "", "cron minute", "step 61 is out of range"},
		{"*/x * * * *", "", "cron minute", `step "x" is not a positive number`},
		{"*/+5 * * * *", "", "cron minute", "not a positive number"},
		{"5-1 * * * *", "", "cron minute", "range 5-1 starts after it ends"},
		{"1,,2 * * * *", "", "cron minute", "empty list item"},
		{"1, * * * *", "", "cron minute", "empty list item"},
		{"a * * * *", "", "cron minute", `"a" is not a number`},
		{"-1 * * * *", "", "cron minute", "missing value"},
		{"1-2-3 * * * *", "", "cron minute", `"2-3" is not a number`},
		{"JAN * * * *", "", "cron minute", `"JAN" is not a number`},
		{"? * * * *", "", "cron minute", "not a number"},
		{"0 0 ? * *", "", "cron day-of-month", "not a number"},
		{"@every 5m", "", "cron", "use an interval schedule"},
		{"@reboot", "", "cron", "not a time-based schedule"},
		{"@fortnightly", "", "cron", "unknown macro"},
		{"0 0 30 2 *", "", "cron", "never fires"},
		{"0 0 31 4,6,9,11 *", "", "cron", "never fires"},
		{"0 0 * * *", "Mars/Olympus_Mons", "zone", "unknown IANA time zone"},
		{"0 0 * * *", "Local", "zone", "not allowed"},
		{"0 0 * * *", "../etc/passwd", "zone", "unknown IANA time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.zone, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCron(tt.expr, tt.zone)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseCron(%q) error = %v, want a *FieldError", tt.expr, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("error = %q (field %q), want field %q with problem containing %q",
					err, fe.Field, tt.field, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), tt.field) {
				t.Errorf("error %q does not start with the field name %q", err, tt.field)
			}
		})
	}
}

func TestCronSubHourly(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"0 * * * *":    false,
		"30 2 * * *":   false,
		"0 2,3 * * *":  false,
		"*/15 * * * *": true,
		"0,30 9 * * *": true,
		"* * * * *":    true,
		"*/60 * * * *": false,
	}
	for expr, want := range tests {
		s, err := ParseCron(expr, "Europe/Berlin")
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", expr, err)
		}
		if got := s.FiresByElapsedTime(); got != want {
			t.Errorf("ParseCron(%q).FiresByElapsedTime() = %v, want %v", expr, got, want)
		}
	}
}
