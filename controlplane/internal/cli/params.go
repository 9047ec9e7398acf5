package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// buildParameters merges --params-json (a JSON object) with -p key=value
// pairs, the pairs winning, and returns the parameters as JSON text, or ""
// when there are none. Numbers keep their exact text.
func buildParameters(paramsJSON string, pairs []string) (string, error) {
	params := map[string]any{}
	if strings.TrimSpace(paramsJSON) != "" {
		v, err := decodeJSON(paramsJSON)
		if err != nil {
			return "", fmt.Errorf("--params-json: %w", err)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return "", errors.New("--params-json must be a JSON object such as '{\"day\": \"2024-05-01\"}'")
		}
		params = obj
	}
	for _, pair := range pairs {
		key, value, err := parseParam(pair)
		if err != nil {
			return "", err
		}
		params[key] = value
	}
	if len(params) == 0 {
		return "", nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(params); err != nil {
		return "", fmt.Errorf("encode parameters: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// parseParam splits a -p key=value pair. The value is taken as JSON when it
// is valid JSON (a number, true, false, null, a quoted string, an array or
// an object) and as a plain string otherwise.
func parseParam(pair string) (string, any, error) {
	key, raw, ok := strings.Cut(pair, "=")
	if !ok || key == "" {
		return "", nil, fmt.Errorf("-p %q: want key=value", pair)
	}
	if v, err := decodeJSON(raw); err == nil {
		return key, v, nil
	}
	return key, raw, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers as
// [json.Number] so that their text survives re-encoding.
func decodeJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected text after the value")
	}
	return v, nil
}
