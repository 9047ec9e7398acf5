package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RenderArgs returns args with every {{ .name }} placeholder replaced by the
// parameter name from paramsJSON, a JSON object (empty means no parameters).
//
// A placeholder is "{{", optional spaces, a dot, a name made of letters,
// digits and underscores that does not start with a digit, optional spaces,
// and "}}". Nothing else of Go's text/template is supported: any other "{{"
// action (a function call, a pipeline, a nested field, a trim marker) is an
// error, so an argument cannot contain a literal "{{".
//
// Values are rendered as written in the JSON: a number keeps its exact digits
// (9007199254740993 stays exact), a string is inserted raw without quotes,
// booleans are true and false, null is null, and objects and arrays are
// compact JSON with their keys in the original order. Rendering is a single
// pass: a value containing "{{" is not expanded again.
//
// Errors name the argument and the parameter. They are returned for invalid
// JSON, a parameter that is not set, an unsupported action, and a result
// containing a NUL byte, which no process argument can hold.
func RenderArgs(args []string, paramsJSON string) ([]string, error) {
	params, err := parseParams(paramsJSON)
	if err != nil {
		return nil, err
	}
	rendered := make(map[string]string)
	out := make([]string, len(args))
	for i, arg := range args {
		s, err := renderArg(arg, params, rendered)
		if err != nil {
			return nil, fmt.Errorf("command[%d]: %w", i, err)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("command[%d]: contains a NUL byte, which a process argument cannot hold", i)
		}
		out[i] = s
	}
	return out, nil
}

// parseParams decodes a JSON object into its members, each kept as written so
// that numbers keep their digits and objects their key order.
func parseParams(paramsJSON string) (map[string]json.RawMessage, error) {
	trimmed := strings.TrimSpace(paramsJSON)
	if trimmed == "" {
		return map[string]json.RawMessage{}, nil
	}
	if trimmed[0] != '{' {
		return nil, errors.New("parameters: not a JSON object")
	}
	// Members stay raw rather than decoded (even with UseNumber) so that a
	// value is rendered exactly as written, digits and key order included.
	dec := json.NewDecoder(strings.NewReader(trimmed))
	var params map[string]json.RawMessage
	if err := dec.Decode(&params); err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parameters: unexpected data after the JSON object")
	}
	return params, nil
}

// renderArg expands the placeholders of one argument. rendered caches the
// text of each parameter already rendered.
func renderArg(arg string, params map[string]json.RawMessage, rendered map[string]string) (string, error) {
	if !strings.Contains(arg, "{{") {
		return arg, nil
	}
	var b strings.Builder
	rest := arg
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:open])
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("unclosed action %q: a placeholder is {{ .name }}", rest[open:])
		}
		action := rest[open : open+2+end+2]
		name, ok := placeholderName(action[2 : len(action)-2])
		if !ok {
			return "", fmt.Errorf("unsupported action %q: only {{ .name }} placeholders are allowed, "+
				"without functions, pipelines or nested fields", action)
		}
		text, err := paramText(name, params, rendered)
		if err != nil {
			return "", err
		}
		b.WriteString(text)
		rest = rest[open+len(action):]
	}
}

// placeholderName returns name when inner is " .name " with optional spaces.
func placeholderName(inner string) (string, bool) {
	inner = strings.Trim(inner, " \t")
	name, ok := strings.CutPrefix(inner, ".")
	if !ok || name == "" {
		return "", false
	}
	for i, r := range name {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && unicode.IsDigit(r):
		default:
			return "", false
		}
	}
	return name, true
}

// paramText renders the parameter name as a command-line argument.
func paramText(name string, params map[string]json.RawMessage, rendered map[string]string) (string, error) {
	if text, ok := rendered[name]; ok {
		return text, nil
	}
	raw, ok := params[name]
	if !ok {
		return "", fmt.Errorf("parameter %q is not set", name)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("parameter %q has no value", name)
	}
	var text string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", fmt.Errorf("parameter %q: %w", name, err)
		}
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", fmt.Errorf("parameter %q: %w", name, err)
		}
		text = buf.String()
	default:
		// Numbers, true, false and null are rendered exactly as written.
		text = string(raw)
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	rendered[name] = text
	return text, nil
}
