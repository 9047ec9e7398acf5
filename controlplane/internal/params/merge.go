package params

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Merge lays overrides over defaults, one level deep: each top-level key of
// overrides replaces the same key of defaults, and nested objects are not
// merged. The empty string counts as {}. Both inputs must pass [Check].
//
// The result is compact JSON with top-level keys sorted, so equal inputs
// give equal text. Values are copied verbatim apart from whitespace: numbers
// keep their exact digits (9007199254740993 stays 9007199254740993, 1.50
// stays 1.50) and nested objects keep their key order. Merge returns an
// [*Error] when an input is rejected or the result exceeds [MaxSize].
func Merge(defaults, overrides string) (string, error) {
	base, err := members(defaults)
	if err != nil {
		return "", fmt.Errorf("default parameters: %w", err)
	}
	over, err := members(overrides)
	if err != nil {
		return "", fmt.Errorf("parameters: %w", err)
	}
	for k, v := range over {
		base[k] = v
	}

	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			out.WriteByte(',')
		}
		writeString(&out, k)
		out.WriteByte(':')
		if err := json.Compact(&out, base[k]); err != nil {
			return "", fmt.Errorf("compact parameter %q: %w", k, err)
		}
	}
	out.WriteByte('}')

	if out.Len() > MaxSize {
		return "", &Error{Reason: fmt.Sprintf(
			"merged parameters must be at most %d bytes, got %d", MaxSize, out.Len())}
	}
	return out.String(), nil
}

// members checks raw and splits it into its top-level members.
func members(raw string) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if raw == "" {
		return m, nil
	}
	if err := Check(raw); err != nil {
		return nil, err
	}
	// RawMessage keeps each value's text, numbers included, byte for byte.
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("decode parameters: %w", err)
	}
	return m, nil
}

// writeString appends s as a JSON string without HTML escaping, so keys such
// as "a<b" read as written.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail; Encode appends a newline, removed below.
	_ = enc.Encode(s)
	buf.Truncate(buf.Len() - 1)
}
