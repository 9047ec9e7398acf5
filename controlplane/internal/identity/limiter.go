package identity

import (
	"sync"
	"time"
)

// maxBuckets bounds the limiter's memory; when full it forgets every
// bucket, which only ever makes it more lenient for a moment.
const maxBuckets = 100000

// Rate is a token bucket's shape: Burst attempts at once, then one more
// every Every.
type Rate struct {
	// Burst is the bucket's capacity.
	Burst int
	// Every is the time to earn back one attempt.
	Every time.Duration
}

// limiter keeps a token bucket per key in memory. It is per replica: the
// database counter of failures is what holds across replicas.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter() *limiter { return &limiter{buckets: make(map[string]*bucket)} }

// allow takes one token from key's bucket and reports whether there was one.
func (l *limiter) allow(key string, r Rate, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			clear(l.buckets)
		}
		b = &bucket{tokens: float64(r.Burst), last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 && r.Every > 0 {
		b.tokens = min(float64(r.Burst), b.tokens+float64(elapsed)/float64(r.Every))
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
