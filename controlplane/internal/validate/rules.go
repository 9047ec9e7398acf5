package validate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// valueKind says how a field's values (or a list's elements, or a map's
// values) are checked.
type valueKind int

const (
	kindOther valueKind = iota // only required and max_items apply
	kindString
	kindBytes
	kindInt
	kindUint
	kindMessage
	kindDuration
	kindTimestamp
)

// fieldRule is the checking plan of one field, with defaults filled in.
type fieldRule struct {
	fd         protoreflect.FieldDescriptor
	name       string
	kind       valueKind
	keyString  bool // map field with string keys
	required   bool
	maxLen     int
	format     ferryv1.Format
	maxItems   int
	itemMaxLen int
	itemFormat ferryv1.Format
	hasMin     bool
	min        int64
	hasMax     bool
	max        int64
}

// buildRules plans the checks of md's fields in declaration order, leaving
// out fields with nothing to check.
func buildRules(md protoreflect.MessageDescriptor) []fieldRule {
	var out []fieldRule
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fr := ruleOf(fd)
		r := fieldRule{
			fd:         fd,
			name:       string(fd.Name()),
			required:   fr.GetRequired(),
			maxLen:     orDefault(fr.GetMaxLen(), DefaultMaxLen),
			format:     fr.GetFormat(),
			maxItems:   orDefault(fr.GetMaxItems(), DefaultMaxItems),
			itemMaxLen: orDefault(fr.GetItemMaxLen(), DefaultMaxLen),
			itemFormat: fr.GetItemFormat(),
			hasMin:     fr.Min != nil,
			min:        fr.GetMin(),
			hasMax:     fr.Max != nil,
			max:        fr.GetMax(),
		}
		valueField := fd
		if fd.IsMap() {
			r.keyString = fd.MapKey().Kind() == protoreflect.StringKind
			valueField = fd.MapValue()
		}
		r.kind = kindOf(valueField)
		if (r.kind == kindInt || r.kind == kindUint) && !r.hasMin && !r.hasMax {
			r.kind = kindOther
		}
		if r.kind == kindOther && !r.required && !fd.IsList() && !fd.IsMap() {
			continue
		}
		out = append(out, r)
	}
	return out
}

// kindOf classifies the values of fd.
func kindOf(fd protoreflect.FieldDescriptor) valueKind {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return kindString
	case protoreflect.BytesKind:
		return kindBytes
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return kindInt
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return kindUint
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Duration":
			return kindDuration
		case "google.protobuf.Timestamp":
			return kindTimestamp
		}
		return kindMessage
	}
	return kindOther
}

func orDefault(v uint32, def int) int {
	if v == 0 {
		return def
	}
	return int(v)
}

// intReason checks an integer value against min and max.
func (r *fieldRule) intReason(v protoreflect.Value) string {
	if r.kind == kindUint {
		u := v.Uint()
		// Above MaxInt64, u exceeds every max and satisfies every min.
		big := u > math.MaxInt64
		switch {
		case r.hasMax && (big || int64(u) > r.max):
			return fmt.Sprintf("must be <= %d", r.max)
		case r.hasMin && !big && int64(u) < r.min:
			return fmt.Sprintf("must be >= %d", r.min)
		}
		return ""
	}
	n := v.Int()
	switch {
	case r.hasMin && n < r.min:
		return fmt.Sprintf("must be >= %d", r.min)
	case r.hasMax && n > r.max:
		return fmt.Sprintf("must be <= %d", r.max)
	}
	return ""
}

// sortKeys orders map keys of any one kind.
func sortKeys(keys []protoreflect.MapKey) {
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
		switch x := a.Interface().(type) {
		case string:
			return cmp.Compare(x, b.Interface().(string))
		case int32:
			return cmp.Compare(x, b.Interface().(int32))
		case int64:
			return cmp.Compare(x, b.Interface().(int64))
		case uint32:
			return cmp.Compare(x, b.Interface().(uint32))
		case uint64:
			return cmp.Compare(x, b.Interface().(uint64))
		case bool:
			return cmp.Compare(boolInt(x), boolInt(b.Interface().(bool)))
		}
		return 0
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ruleCache holds the rule list of each message descriptor. Generated
// descriptors live as long as the process, so the cache holds one entry per
// message type of the API.
var ruleCache sync.Map // protoreflect.MessageDescriptor -> []fieldRule

// rulesFor returns the cached rules of md, building them on first use.
func rulesFor(md protoreflect.MessageDescriptor) []fieldRule {
	if v, ok := ruleCache.Load(md); ok {
		return v.([]fieldRule)
	}
	v, _ := ruleCache.LoadOrStore(md, buildRules(md))
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
