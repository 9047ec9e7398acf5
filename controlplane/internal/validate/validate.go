package validate

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
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
	// maxKeyShown bounds how much of a map key a field path quotes.
	maxKeyShown = 64
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
	// Seconds beyond what time.Duration holds exceed any max.
	if seconds > int64(math.MaxInt64/time.Second) ||
		time.Duration(seconds)*time.Second+time.Duration(nanos) > max {
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

// renderKey writes a map key for a field path: quoted when a string (and
// shortened when long), plain otherwise.
func renderKey(k protoreflect.MapKey) string {
	s, ok := k.Interface().(string)
	if !ok {
		return k.String()
	}
	if len(s) > maxKeyShown {
		cut := maxKeyShown
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// rules caches the rule list of each message descriptor.
var rules sync.Map // protoreflect.MessageDescriptor -> []fieldRule

// rulesFor returns the cached rules of md, building them on first use.
func rulesFor(md protoreflect.MessageDescriptor) []fieldRule {
	if v, ok := rules.Load(md); ok {
		return v.([]fieldRule)
	}
	v, _ := rules.LoadOrStore(md, buildRules(md))
	return v.([]fieldRule)
}

// ruleOf returns the declared rules of fd, or an empty rule set.
func ruleOf(fd protoreflect.FieldDescriptor) *ferryv1.FieldRules {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, ferryv1.E_Rules) {
		return &ferryv1.FieldRules{}
	}
	fr, _ := proto.GetExtension(opts, ferryv1.E_Rules).(*ferryv1.FieldRules)
	if fr == nil {
		return &ferryv1.FieldRules{}
	}
	return fr
}
