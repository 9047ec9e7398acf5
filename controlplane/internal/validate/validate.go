package validate

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	if ferr := checkMessage(rm, nil); ferr != nil {
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

func durationReason(seconds int64, nanos int32, max time.Duration) string {
	d := durationpb.Duration{Seconds: seconds, Nanos: nanos}
	if d.CheckValid() != nil {
		return "must be a valid duration"
	}
	v := d.AsDuration()
	if v < 0 {
		return "must not be negative"
	}
	if v > max {
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

// path locates a field while [checkMessage] walks; it is rendered only when
// a violation is found, so a valid message costs no string building.
type path struct {
	parent *path
	name   string // field name, or "" for an index or key step
	index  int    // list index when key is unset and name is ""
	key    string // rendered map key
}

func (p *path) String() string {
	if p == nil {
		return ""
	}
	var steps []*path
	for s := p; s != nil; s = s.parent {
		steps = append(steps, s)
	}
	var b strings.Builder
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		switch {
		case s.name != "":
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		case s.key != "":
			b.WriteString("[" + s.key + "]")
		default:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
	return b.String()
}

func fail(at *path, reason string) *FieldError {
	return &FieldError{Field: at.String(), Reason: reason}
}

// checkMessage checks the fields of m, which lies at path at.
func checkMessage(m protoreflect.Message, at *path) *FieldError {
	rules := rulesFor(m.Descriptor())
	for i := range rules {
		r := &rules[i]
		here := path{parent: at, name: r.name}
		if ferr := checkField(m, r, &here); ferr != nil {
			return ferr
		}
	}
	return nil
}

// checkField checks one field of m.
func checkField(m protoreflect.Message, r *fieldRule, at *path) *FieldError {
	fd := r.fd
	if !m.Has(fd) {
		if r.required {
			return fail(at, "is required")
		}
		return nil
	}
	switch {
	case fd.IsList():
		return checkList(m.Get(fd).List(), r, at)
	case fd.IsMap():
		return checkMap(m.Get(fd).Map(), r, at)
	}
	v := m.Get(fd)
	switch r.kind {
	case kindString:
		s := v.String()
		if reason := stringReason(s, r.maxLen); reason != "" {
			return fail(at, reason)
		}
		if s != "" {
			if reason := formatReason(r.format, s); reason != "" {
				return fail(at, reason)
			}
		}
	case kindBytes:
		if n := len(v.Bytes()); n > r.maxLen {
			return fail(at, fmt.Sprintf("must be at most %d bytes", r.maxLen))
		}
	case kindInt, kindUint:
		if reason := r.intReason(v); reason != "" {
			return fail(at, reason)
		}
	case kindMessage:
		return checkMessage(v.Message(), at)
	case kindDuration:
		return checkDuration(v.Message(), at)
	case kindTimestamp:
		return checkTimestamp(v.Message(), at)
	}
	return nil
}

func checkList(list protoreflect.List, r *fieldRule, at *path) *FieldError {
	n := list.Len()
	if n > r.maxItems {
		return fail(at, fmt.Sprintf("must have at most %d items", r.maxItems))
	}
	if r.kind == kindOther {
		return nil
	}
	for i := range n {
		v := list.Get(i)
		elem := path{parent: at, index: i}
		var ferr *FieldError
		switch r.kind {
		case kindString:
			ferr = checkItemString(v.String(), r, &elem, "")
		case kindBytes:
			if len(v.Bytes()) > r.itemMaxLen {
				ferr = fail(&elem, fmt.Sprintf("must be at most %d bytes", r.itemMaxLen))
			}
		case kindInt, kindUint:
			if reason := r.intReason(v); reason != "" {
				ferr = fail(&elem, reason)
			}
		case kindMessage:
			ferr = checkMessage(v.Message(), &elem)
		case kindDuration:
			ferr = checkDuration(v.Message(), &elem)
		case kindTimestamp:
			ferr = checkTimestamp(v.Message(), &elem)
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

func checkMap(mp protoreflect.Map, r *fieldRule, at *path) *FieldError {
	if n := mp.Len(); n > r.maxItems {
		return fail(at, fmt.Sprintf("must have at most %d items", r.maxItems))
	}
	// Map order is random; check in key order so the reported violation is
	// the same on every call.
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	sortKeys(keys)
	for _, k := range keys {
		entry := path{parent: at, key: renderKey(k)}
		if r.keyString {
			if ferr := checkItemString(k.String(), r, &entry, "key "); ferr != nil {
				return ferr
			}
		}
		v := mp.Get(k)
		var ferr *FieldError
		switch r.kind {
		case kindString:
			if reason := stringReason(v.String(), r.itemMaxLen); reason != "" {
				ferr = fail(&entry, reason)
			}
		case kindBytes:
			if len(v.Bytes()) > r.itemMaxLen {
				ferr = fail(&entry, fmt.Sprintf("must be at most %d bytes", r.itemMaxLen))
			}
		case kindInt, kindUint:
			if reason := r.intReason(v); reason != "" {
				ferr = fail(&entry, reason)
			}
		case kindMessage:
			ferr = checkMessage(v.Message(), &entry)
		case kindDuration:
			ferr = checkDuration(v.Message(), &entry)
		case kindTimestamp:
			ferr = checkTimestamp(v.Message(), &entry)
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// checkItemString checks an element or map key; prefix says which in the
// reason ("key ").
func checkItemString(s string, r *fieldRule, at *path, prefix string) *FieldError {
	if reason := stringReason(s, r.itemMaxLen); reason != "" {
		return fail(at, prefix+reason)
	}
	if reason := formatReason(r.itemFormat, s); reason != "" {
		return fail(at, prefix+reason)
	}
	return nil
}

// stringReason checks the length and encoding of s.
func stringReason(s string, maxLen int) string {
	if len(s) > maxLen {
		return fmt.Sprintf("must be at most %d bytes", maxLen)
	}
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	return ""
}

func checkDuration(m protoreflect.Message, at *path) *FieldError {
	fields := m.Descriptor().Fields()
	seconds := m.Get(fields.ByNumber(1)).Int()
	nanos := int32(m.Get(fields.ByNumber(2)).Int())
	if reason := durationReason(seconds, nanos, MaxDuration); reason != "" {
		return fail(at, reason)
	}
	return nil
}

func checkTimestamp(m protoreflect.Message, at *path) *FieldError {
	fields := m.Descriptor().Fields()
	ts := timestamppb.Timestamp{
		Seconds: m.Get(fields.ByNumber(1)).Int(),
		Nanos:   int32(m.Get(fields.ByNumber(2)).Int()),
	}
	if ts.CheckValid() != nil {
		return fail(at, "must be a valid timestamp between years 1 and 9999")
	}
	return nil
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
