package spec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzZones are the zones fuzzed schedules are read in; the fuzzer picks one
// by index rather than inventing names that would be looked up on disk.
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney",
	"America/Santiago", "Australia/Lord_Howe"}

// fuzzStart is where fuzzed schedules are evaluated: a year holding every
// kind of transition in fuzzZones.
var fuzzStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// checkFieldError fails unless err is a well-formed [*FieldError].
func checkFieldError(t *testing.T, input string, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%q: error %v is not a *FieldError", input, err)
	}
	if fe.Field == "" || fe.Problem == "" || !strings.HasPrefix(err.Error(), fe.Field) {
		t.Fatalf("%q: malformed error %#v", input, fe)
	}
}

// checkFires fails unless the schedule's next fires are in strictly
// increasing order and each is found again from just before it.
func checkFires(t *testing.T, input string, s Schedule) {
	t.Helper()
	cur := fuzzStart
	for range 20 {
		next, ok := s.Next(cur)
		if !ok {
			return
		}
		if !next.After(cur) {
			t.Fatalf("%q: Next(%s) = %s, not after", input, cur, next)
		}
		if again, ok := s.Next(next.Add(-time.Nanosecond)); !ok || !again.Equal(next) {
			t.Fatalf("%q: Next(just before %s) = %s, %v", input, next, again, ok)
		}
		cur = next
	}
	_ = s.Preview(fuzzStart, 5)
}

func FuzzParseCron(f *testing.F) {
	f.Add("0 2 * * *", uint8(1))
	f.Fuzz(func(t *testing.T, expr string, zone uint8) {
		s, err := ParseCron(expr, fuzzZones[int(zone)%len(fuzzZones)])
		if err != nil {
			checkFieldError(t, expr, err)
			return
		}
		checkFires(t, expr, s)
	})
}

func FuzzParseRRule(f *testing.F) {
	f.Add("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", uint8(1), int64(0))
	f.Fuzz(func(t *testing.T, rule string, zone uint8, startOffset int64) {
		// Keep DTSTART within about ±30 years of fuzzStart.
		dtstart := fuzzStart.Add(time.Duration(startOffset%(30*365*24*3600)) * time.Second)
		s, err := ParseRRule(rule, dtstart, fuzzZones[int(zone)%len(fuzzZones)])
		if err != nil {
			checkFieldError(t, rule, err)
			return
		}
		checkFires(t, rule, s)
	})
}
