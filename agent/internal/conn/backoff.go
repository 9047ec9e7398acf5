package conn

import (
	"math/rand/v2"
	"time"
)

// backoff computes retry delays: exponential growth from min, capped at max,
// with full jitter, so that many agents cut off at once do not come back in
// step. The zero value is not usable; it is not safe for concurrent use.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next retry and counts the attempt.
func (b *backoff) next() time.Duration {
	ceiling := b.max
	// Stop doubling well before the shift could overflow.
	if b.attempt < 30 {
		ceiling = min(b.min<<b.attempt, b.max)
	}
	b.attempt++
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// reset starts the sequence over.
func (b *backoff) reset() { b.attempt = 0 }
