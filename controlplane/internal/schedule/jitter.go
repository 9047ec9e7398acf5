package schedule

import (
	"encoding/binary"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
)

// jitterFor returns the delay, in [0, max), added to the expected start of
// the run of schedule id at fire time nominal. It is derived from both, so
// a run created again after a crash, or by another replica, gets the same
// expected start, and the runs of many schedules firing at one instant
// spread out.
func jitterFor(id uuid.UUID, nominal time.Time, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write(id[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(nominal.Unix()))
	h.Write(b[:])
	// Whole milliseconds: PostgreSQL keeps microseconds, and a round delay
	// reads better in a run's expected start.
	steps := uint64(max / time.Millisecond)
	if steps == 0 {
		return 0
	}
	return time.Duration(h.Sum64()%steps) * time.Millisecond
}
