package run

import "time"

// RetryOn is a bit set of the outcomes a deployment retries automatically. Its
// values match the runs.retry_on column, whose default is [DefaultRetryOn]. The
// zero value retries nothing.
type RetryOn uint8

// The outcomes that can be retried automatically.
const (
	// RetryOnFailed retries runs that end FAILED named "Failed".
	RetryOnFailed RetryOn = 1 << iota
	// RetryOnCrashed retries runs that end CRASHED, including by lease expiry.
	RetryOnCrashed
	// RetryOnTimedOut retries runs that end FAILED named "TimedOut".
	RetryOnTimedOut
)

// DefaultRetryOn retries every retryable outcome; a rejection never is.
const DefaultRetryOn = RetryOnFailed | RetryOnCrashed | RetryOnTimedOut

// Has reports whether every bit of o is set in r.
func (r RetryOn) Has(o RetryOn) bool {
	return o != 0 && r&o == o
}

// MaxBackoff bounds every retry delay, jitter included, so that a run with many
// attempts still comes back within the hour.
const MaxBackoff = time.Hour

// jitterDivisor sets the jitter to ±1/5 (20%) of the exponential delay, enough
// to spread runs that failed together.
const jitterDivisor = 5

// Rand returns a uniformly distributed value in [0, n) for n > 0. The method
// values (*rand.Rand).Int64N of math/rand/v2 and (*rand.Rand).Int63n of
// math/rand satisfy it; a nil Rand means no jitter.
type Rand func(n int64) int64

// Backoff returns how long to wait before the attempt after attempt number
// attempt (counted from 1) with base delay base: base·2^(attempt-1), then
// jittered uniformly by ±20% using rnd, never above [MaxBackoff]. It never
// overflows, however large attempt or base are. A base of zero or less means
// no delay; an attempt below 1 counts as 1. A value from rnd outside [0, n) is
// clamped into it.
func Backoff(attempt int32, base time.Duration, rnd Rand) time.Duration {
	if base <= 0 {
		return 0
	}
	attempt = max(attempt, 1)

	// Compare against the cap shifted right rather than shifting base left,
	// which could overflow.
	d := MaxBackoff
	if base <= MaxBackoff>>(attempt-1) {
		d = base << (attempt - 1)
	}
	if rnd == nil {
		return d
	}

	// The jitter range is cut at the cap instead of clamping the result, so
	// that capped delays stay spread rather than piling up at MaxBackoff.
	j := d / jitterDivisor
	lo, hi := d-j, min(d+j, MaxBackoff)
	n := int64(hi-lo) + 1
	r := min(max(rnd(n), 0), n-1)
	return lo + time.Duration(r)
}
