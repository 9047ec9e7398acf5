package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Jitter returns a delay in [0, max) for the fire of the schedule named
// scheduleID at nominal. It depends only on its arguments, so every replica
// computes the same delay for the same fire and a restart does not move it.
// The delay is a whole number of microseconds, so nominal plus the delay
// survives a round trip through a PostgreSQL timestamptz. It is zero when max
// is under a microsecond.
func Jitter(nominal time.Time, scheduleID string, max time.Duration) time.Duration {
	steps := int64(max / time.Microsecond)
	if steps <= 0 {
		return 0
	}
	h := sha256.New()
	var stamp [12]byte
	binary.BigEndian.PutUint64(stamp[:8], uint64(nominal.Unix()))
	binary.BigEndian.PutUint32(stamp[8:], uint32(nominal.Nanosecond()))
	h.Write(stamp[:])
	h.Write([]byte(scheduleID))
	sum := h.Sum(nil)
	// The modulo bias is below 2^-40 for any max under a day.
	return time.Duration(binary.BigEndian.Uint64(sum[:8])%uint64(steps)) * time.Microsecond
}
