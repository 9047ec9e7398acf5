package validate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxKeyShown bounds how much of a map key a field path quotes.
const maxKeyShown = 64

// maxInlineDepth is the path depth a walk holds without allocating; ferry.v1
// requests nest at most five steps (batches[i].lines[j].text).
const maxInlineDepth = 16

// step is one element of a field path: a field name, a list index or a map
// key. The path is rendered only when a violation is found, so a valid
// message costs no string building.
type step struct {
	name   string // field name; empty for an index or key step
	index  int
	key    protoreflect.MapKey
	hasKey bool
}

// walker checks a message tree, keeping the path to the current field.
type walker struct {
	steps []step
}

func (w *walker) push(s step) { w.steps = append(w.steps, s) }
func (w *walker) pop()        { w.steps = w.steps[:len(w.steps)-1] }

// fail reports reason for the current path.
func (w *walker) fail(reason string) *FieldError {
	var b strings.Builder
	for _, s := range w.steps {
		switch {
		case s.name != "":
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		case s.hasKey:
			b.WriteString("[" + renderKey(s.key) + "]")
		default:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
	return &FieldError{Field: b.String(), Reason: reason}
}

// message checks the fields of m in declaration order.
func (w *walker) message(m protoreflect.Message) *FieldError {
	rules := rulesFor(m.Descriptor())
	for i := range rules {
		w.push(step{name: rules[i].name})
		ferr := w.field(m, &rules[i])
		w.pop()
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// field checks one field of m.
func (w *walker) field(m protoreflect.Message, r *fieldRule) *FieldError {
	fd := r.fd
	if !m.Has(fd) {
		if r.required {
			return w.fail("is required")
		}
		// An implicit-presence scalar still holds its zero value, which
		// min may reject.
		if fd.HasPresence() || fd.IsList() || fd.IsMap() {
			return nil
		}
	}
	switch {
	case fd.IsList():
		return w.list(m.Get(fd).List(), r)
	case fd.IsMap():
		return w.mapField(m.Get(fd).Map(), r)
	}
	v := m.Get(fd)
	if r.kind == kindString {
		s := v.String()
		if reason := stringReason(s, r.maxLen); reason != "" {
			return w.fail(reason)
		}
		if s == "" {
			return nil
		}
		if reason := formatReason(r.format, s); reason != "" {
			return w.fail(reason)
		}
		return nil
	}
	return w.value(v, r, r.maxLen)
}

// value checks a non-string value: a singular field, an element or a map
// value. maxLen caps bytes.
func (w *walker) value(v protoreflect.Value, r *fieldRule, maxLen int) *FieldError {
	switch r.kind {
	case kindBytes:
		if len(v.Bytes()) > maxLen {
			return w.fail(fmt.Sprintf("must be at most %d bytes", maxLen))
		}
	case kindInt, kindUint:
		if reason := r.intReason(v); reason != "" {
			return w.fail(reason)
		}
	case kindMessage:
		return w.message(v.Message())
	case kindDuration:
		return w.duration(v.Message())
	case kindTimestamp:
		return w.timestamp(v.Message())
	}
	return nil
}

func (w *walker) list(list protoreflect.List, r *fieldRule) *FieldError {
	n := list.Len()
	if n > r.maxItems {
		return w.fail(fmt.Sprintf("must have at most %d items", r.maxItems))
	}
	if r.kind == kindOther {
		return nil
	}
	for i := range n {
		w.push(step{index: i})
		var ferr *FieldError
		if r.kind == kindString {
			ferr = w.itemString(list.Get(i).String(), r, "")
		} else {
			ferr = w.value(list.Get(i), r, r.itemMaxLen)
		}
		w.pop()
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

func (w *walker) mapField(mp protoreflect.Map, r *fieldRule) *FieldError {
	if n := mp.Len(); n > r.maxItems {
		return w.fail(fmt.Sprintf("must have at most %d items", r.maxItems))
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
		w.push(step{key: k, hasKey: true})
		ferr := w.entry(k, mp.Get(k), r)
		w.pop()
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// entry checks one key and value of a map.
func (w *walker) entry(k protoreflect.MapKey, v protoreflect.Value, r *fieldRule) *FieldError {
	if r.keyString {
		if ferr := w.itemString(k.String(), r, "key "); ferr != nil {
			return ferr
		}
	}
	if r.kind == kindString {
		if reason := stringReason(v.String(), r.itemMaxLen); reason != "" {
			return w.fail(reason)
		}
		return nil
	}
	return w.value(v, r, r.itemMaxLen)
}

// itemString checks an element or a map key against item_max_len and
// item_format; prefix says which in the reason ("key ").
func (w *walker) itemString(s string, r *fieldRule, prefix string) *FieldError {
	if reason := stringReason(s, r.itemMaxLen); reason != "" {
		return w.fail(prefix + reason)
	}
	if reason := formatReason(r.itemFormat, s); reason != "" {
		return w.fail(prefix + reason)
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

func (w *walker) duration(m protoreflect.Message) *FieldError {
	fields := m.Descriptor().Fields()
	seconds := m.Get(fields.ByNumber(1)).Int()
	nanos := int32(m.Get(fields.ByNumber(2)).Int())
	if reason := durationReason(seconds, nanos, MaxDuration); reason != "" {
		return w.fail(reason)
	}
	return nil
}

func (w *walker) timestamp(m protoreflect.Message) *FieldError {
	fields := m.Descriptor().Fields()
	seconds := m.Get(fields.ByNumber(1)).Int()
	nanos := m.Get(fields.ByNumber(2)).Int()
	if seconds < minTimestampSecond || seconds > maxTimestampSecond || nanos < 0 || nanos > maxNanos {
		return w.fail("must be a valid timestamp between years 1 and 9999")
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
