package spec

import (
	"testing"
	"time"
)

func BenchmarkNext(b *testing.B) {
	dtstart := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	specs := map[string]Spec{
		"cron daily":       {Kind: KindCron, Expr: "30 2 * * *", Zone: "Europe/Berlin"},
		"cron every 15m":   {Kind: KindCron, Expr: "*/15 * * * *", Zone: "Europe/Berlin"},
		"cron weekdays":    {Kind: KindCron, Expr: "0 9 * * MON-FRI", Zone: "America/New_York"},
		"interval":         {Kind: KindInterval, Every: 15 * time.Minute, Anchor: dtstart},
		"rrule monthly":    {Kind: KindRRule, Expr: "FREQ=MONTHLY;BYDAY=-1FR", Anchor: dtstart, Zone: "Europe/Berlin"},
		"rrule count 1000": {Kind: KindRRule, Expr: "FREQ=HOURLY;COUNT=1000", Anchor: time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)},
	}
	from := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)
	for name, sp := range specs {
		s, err := Parse(sp)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, ok := s.Next(from.Add(time.Duration(i%1000) * time.Minute)); !ok {
					b.Fatal("no fire")
				}
			}
		})
	}
}
