package secrets

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// maxListedKeys bounds the keys named when a json-key is missing.
const maxListedKeys = 10

// jsonField returns the field key of secret, a JSON object. A string field
// gives its text; a number or boolean its JSON literal. The errors name keys
// and JSON types, never the secret's text, so a JSON syntax error (whose
// message quotes the offending character) is not passed on.
func jsonField(secret, key string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(secret), &obj); err != nil || obj == nil {
		return "", fail(ErrInvalid, "the secret is not a JSON object, so json-key %q cannot be read from it; "+
			"remove #%s from the reference, or store the secret as a JSON object", key, key)
	}
	raw, ok := obj[key]
	if !ok {
		return "", fail(ErrNotFound, "the secret's JSON object has no key %q%s; "+
			"fix the json-key after '#' in the reference", key, listKeys(obj))
	}
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fail(ErrInvalid, "the secret's JSON key %q holds a malformed string", key)
		}
		return s, nil
	case '{', '[':
		return "", fail(ErrInvalid, "the secret's JSON key %q holds an object or array, not a string; "+
			"name a field that holds a string", key)
	case 'n':
		return "", fail(ErrInvalid, "the secret's JSON key %q is null", key)
	}
	// A number, true or false: its literal is the value.
	return string(raw), nil
}

// listKeys returns " (it has keys: a, b)" for the keys that look like
// identifiers; keys are names, not values, and naming them helps fix a typo.
func listKeys(obj map[string]json.RawMessage) string {
	var names []string
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if isIdentifier(k) && len(names) < maxListedKeys {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (it has keys: " + strings.Join(names, ", ") + ")"
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
