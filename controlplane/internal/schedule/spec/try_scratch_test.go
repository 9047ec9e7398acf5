package spec

import (
	"fmt"
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	for _, c := range []struct{ expr, zone string; from time.Time }{
		{"30 2 * * *", "America/New_York", time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)},
		{"30 1 * * *", "America/New_York", time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC)},
		{"0 * * * *", "America/New_York", time.Date(2026, 3, 8, 4, 0, 0, 0, time.UTC)},
		{"*/15 * * * *", "America/New_York", time.Date(2026, 11, 1, 4, 40, 0, 0, time.UTC)},
		{"*/15 * * * *", "Australia/Lord_Howe", time.Date(2026, 10, 3, 14, 50, 0, 0, time.UTC)},
		{"*/20 * * * *", "Australia/Lord_Howe", time.Date(2026, 10, 3, 14, 50, 0, 0, time.UTC)},
		{"*/15 2 * * *", "America/New_York", time.Date(2026, 3, 8, 4, 0, 0, 0, time.UTC)},
	} {
		s, err := ParseCron(c.expr, c.zone)
		if err != nil { t.Fatal(err) }
		fmt.Println(s)
		for _, f := range s.Preview(c.from, 10) {
			fmt.Println("  ", f.Time.Format(time.RFC3339), f.Local, "|", f.DST)
		}
	}
	s, err := ParseRRule("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=9,17;COUNT=5", time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC), "Europe/Berlin")
	if err != nil { t.Fatal(err) }
	for _, f := range s.Preview(time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC), 10) {
		fmt.Println("  ", f.Time.Format(time.RFC3339), f.Local, "|", f.DST)
	}
	s, err = ParseRRule("FREQ=MINUTELY;INTERVAL=25", time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), "America/New_York")
	if err != nil { t.Fatal(err) }
	for _, f := range s.Preview(time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC), 10) {
		fmt.Println("  ", f.Time.Format(time.RFC3339), f.Local, "|", f.DST)
	}
}
