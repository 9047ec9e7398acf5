package run_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/run"
)

func lowest(int64) int64    { return 0 }
func highest(n int64) int64 { return n - 1 }

func TestBackoff(t *testing.T) {
	t.Parallel()
	const hour = time.Hour
	tests := []struct {
		name    string
		attempt int32
		base    time.Duration
		rnd     run.Rand
		want    time.Duration
	}{
		{"first attempt no jitter", 1, 10 * time.Second, nil, 10 * time.Second},
		{"first attempt lowest jitter", 1, 10 * time.Second, lowest, 8 * time.Second},
		{"first attempt highest jitter", 1, 10 * time.Second, highest, 12 * time.Second},
		{"second attempt doubles", 2, 10 * time.Second, nil, 20 * time.Second},
		{"third attempt quadruples", 3, 10 * time.Second, nil, 40 * time.Second},
		{"third attempt lowest jitter", 3, 10 * time.Second, lowest, 32 * time.Second},
		{"attempt zero counts as one", 0, 10 * time.Second, nil, 10 * time.Second},
		{"negative attempt counts as one", -5, 10 * time.Second, nil, 10 * time.Second},
		{"zero base", 4, 0, highest, 0},
		{"negative base", 4, -time.Second, highest, 0},
		{"one nanosecond has no room to jitter", 1, time.Nanosecond, highest, time.Nanosecond},
		{"just under the cap", 12, time.Second, nil, 2048 * time.Second},
		{"reaches the cap", 13, time.Second, nil, hour},
		{"cap cuts the upper jitter", 13, time.Second, highest, hour},
		{"cap keeps the lower jitter", 13, time.Second, lowest, 48 * time.Minute},
		{"under the cap upper jitter is kept", 12, time.Second, highest, 2457600 * time.Millisecond},
		{"near-cap upper jitter is cut", 12, 1500 * time.Millisecond, highest, hour},
		{"near-cap lower jitter is kept", 12, 1500 * time.Millisecond, lowest, 2457600 * time.Millisecond},
		{"base above the cap", 1, 5 * hour, nil, hour},
		{"base at the int64 limit", 1, math.MaxInt64, highest, hour},
		{"shift of 62", 63, time.Nanosecond, nil, hour},
		{"shift of 63", 64, time.Nanosecond, nil, hour},
		{"shift of 64", 65, time.Nanosecond, nil, hour},
		{"attempt 1e9", 1_000_000_000, 10 * time.Second, nil, hour},
		{"attempt 1e9 lowest jitter", 1_000_000_000, 10 * time.Second, lowest, 48 * time.Minute},
		{"largest attempt and base", math.MaxInt32, math.MaxInt64, highest, hour},
		{"rand below range is clamped", 1, 10 * time.Second, func(int64) int64 { return -100 }, 8 * time.Second},
		{"rand above range is clamped", 1, 10 * time.Second, func(n int64) int64 { return n + 100 }, 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := run.Backoff(tt.attempt, tt.base, tt.rnd); got != tt.want {
				t.Errorf("Backoff(%d, %v) = %v, want %v", tt.attempt, tt.base, got, tt.want)
			}
		})
	}
}

// TestBackoffBounds checks, over many random inputs including huge ones, that
// the delay is within ±20% of the capped exponential delay and never above
// MaxBackoff or below zero.
func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		attempt := r.Int32N(80)
		if r.IntN(10) == 0 {
			attempt = r.Int32()
		}
		base := time.Duration(r.Int64N(int64(2 * time.Hour)))
		if r.IntN(10) == 0 {
			base = time.Duration(r.Int64())
		}
		got := run.Backoff(attempt, base, r.Int64N)

		// Exact exponential delay, computed with floating point as a reference.
		d := float64(base) * math.Pow(2, float64(max(attempt, 1)-1))
		d = math.Min(d, float64(run.MaxBackoff))
		lo, hi := d*0.8-1, math.Min(d*1.2, float64(run.MaxBackoff))+1
		if got < 0 || got > run.MaxBackoff || float64(got) < lo || float64(got) > hi {
			t.Fatalf("Backoff(%d, %v) = %v, want within [%v, %v]",
				attempt, base, got, time.Duration(lo), time.Duration(hi))
		}
	}
}

// TestBackoffJitterSpreads checks that jitter uses its whole range: delays at
// the cap must not pile up on a single value.
func TestBackoffJitterSpreads(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var below, atCap int
	lowest := run.MaxBackoff
	for range 1000 {
		d := run.Backoff(40, time.Second, r.Int64N)
		lowest = min(lowest, d)
		switch {
		case d == run.MaxBackoff:
			atCap++
		case d < run.MaxBackoff*9/10:
			below++
		}
	}
	if atCap > 10 {
		t.Errorf("%d of 1000 capped delays equal MaxBackoff exactly; jitter is piling up", atCap)
	}
	if below < 300 || lowest > run.MaxBackoff*82/100 {
		t.Errorf("capped delays not spread over [48m, 60m]: %d below 54m, lowest %v", below, lowest)
	}
}
