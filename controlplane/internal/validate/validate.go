package validate

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	// DefaultMaxLen caps, in bytes, a string or bytes value whose field
	// declares no max_len (or item_max_len for elements, keys and values),
	// so that no request string is unbounded.
	DefaultMaxLen = 64 << 10
	// DefaultMaxItems caps a repeated or map field that declares no
	// max_items.
	DefaultMaxItems = 10_000
	// MaxDuration is the longest google.protobuf.Duration a request may
	// carry.
	MaxDuration = 7 * 24 * time.Hour
)

// FieldError says which field of a request is invalid and why. Its text is
// safe to return to the client that sent the request.
type FieldError struct {
	// Field is the path of the field, with proto field names, list indexes
	// and map keys: "run.parameters", "spec.command[3]", `spec.env["HOME"]`.
	Field string
	// Reason says what is wrong, such as "must be a JSON object".
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Reason
}

// Message checks m against the rules of its fields and those of every set
// sub-message, repeated message and map value. It returns nil or the first
// violation in field declaration order, as a [*FieldError]. A nil message
// is valid. Message is safe for concurrent use; the rules of each message
// type are read once and cached.
func Message(m proto.Message) error {
	if m == nil {
		return nil
	}
	rm := m.ProtoReflect()
	if !rm.IsValid() {
		return nil
	}
	var buf [maxInlineDepth]step
	w := walker{steps: buf[:0]}
	if ferr := w.message(rm); ferr != nil {
		return ferr
	}
	return nil
}

// Duration checks an optional duration field: unset is valid; otherwise it
// must be a valid duration, non-negative and at most max. It returns nil or
// a [*FieldError] for field.
func Duration(field string, d *durationpb.Duration, max time.Duration) error {
	if d == nil {
		return nil
	}
	if reason := durationReason(d.GetSeconds(), d.GetNanos(), max); reason != "" {
		return &FieldError{Field: field, Reason: reason}
	}
	return nil
}

// Bounds of google.protobuf.Duration and google.protobuf.Timestamp, from
// their definitions: durations within ±10,000 years, timestamps within years
// 1 to 9999.
const (
	maxDurationSeconds = 315_576_000_000
	minTimestampSecond = -62_135_596_800
	maxTimestampSecond = 253_402_300_799
	maxNanos           = 999_999_999
)

// durationReason checks a duration's fields without building a message, as
// the walker calls it for every duration of a request.
func durationReason(seconds int64, nanos int32, max time.Duration) string {
	if seconds < -maxDurationSeconds || seconds > maxDurationSeconds ||
		nanos < -maxNanos || nanos > maxNanos ||
		(seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) {
		return "must be a valid duration"
	}
	if seconds < 0 || nanos < 0 {
		return "must not be negative"
	}
	// Compare seconds first: seconds*time.Second can overflow time.Duration.
	maxSeconds := int64(max / time.Second)
	if seconds > maxSeconds || (seconds == maxSeconds && time.Duration(nanos) > max%time.Second) {
		return "must be at most " + formatDuration(max)
	}
	return ""
}

// formatDuration writes whole days as "7 days" and anything else as Go does.
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
