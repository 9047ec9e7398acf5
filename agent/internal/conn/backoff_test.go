package conn

import (
	"testing"
	"time"
)

func TestBackoffStaysWithinCeiling(t *testing.T) {
	t.Parallel()
	b := backoff{min: 200 * time.Millisecond, max: 30 * time.Second}
	ceilings := []time.Duration{
		200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond,
		12800 * time.Millisecond, 25600 * time.Millisecond, 30 * time.Second,
		30 * time.Second,
	}
	for round := range 50 {
		b.reset()
		for i, ceiling := range ceilings {
			d := b.next()
			if d <= 0 || d > ceiling {
				t.Fatalf("round %d, attempt %d: delay %s outside (0, %s]", round, i, d, ceiling)
			}
		}
	}
	// Far past the cap, the shift must not overflow.
	b.attempt = 200
	if d := b.next(); d <= 0 || d > b.max {
		t.Fatalf("delay after 200 attempts = %s, want within (0, %s]", d, b.max)
	}
}

func TestBackoffJitters(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for range 20 {
		b := backoff{min: time.Second, max: time.Minute}
		seen[b.next()] = true
	}
	if len(seen) < 2 {
		t.Fatalf("20 first delays were all equal (%v): no jitter", seen)
	}
}
