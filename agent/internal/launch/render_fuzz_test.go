package launch_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// FuzzRenderArgs checks that RenderArgs never panics, that an argument
// without "{{" comes back unchanged whenever the parameters are a valid JSON
// object, and that a successful result holds no NUL byte.
func FuzzRenderArgs(f *testing.F) {
	f.Add("--n={{ .n }}", `{"n": 9007199254740993}`)
	f.Add("{{ .a | printf }}", `{"a": 1}`)
	f.Add("plain", "")
	f.Add("{{", `{}`)
	f.Fuzz(func(t *testing.T, arg, params string) {
		got, err := launch.RenderArgs([]string{arg}, params)
		if err == nil {
			if len(got) != 1 {
				t.Fatalf("RenderArgs() returned %d arguments, want 1", len(got))
			}
			if strings.IndexByte(got[0], 0) >= 0 {
				t.Fatalf("RenderArgs() = %q, holds a NUL byte", got[0])
			}
		}
		if strings.Contains(arg, "{{") || strings.IndexByte(arg, 0) >= 0 {
			return
		}
		trimmed := strings.TrimSpace(params)
		if trimmed != "" && (!json.Valid([]byte(trimmed)) || trimmed[0] != '{') {
			return
		}
		if err != nil {
			t.Fatalf("RenderArgs(%q, %q) error = %v, want none", arg, params, err)
		}
		if got[0] != arg {
			t.Fatalf("RenderArgs(%q) = %q, want it unchanged", arg, got[0])
		}
	})
}

// FuzzRenderArgsString checks that a string parameter is inserted raw, after
// any literal prefix, whatever it holds.
func FuzzRenderArgsString(f *testing.F) {
	f.Add("--name=", "name", "it's \"quoted\"")
	f.Add("", "x", "{{ .x }}")
	f.Add("a}}", "_1", "😀")
	f.Fuzz(func(t *testing.T, prefix, name, value string) {
		if !isIdentifier(name) || strings.Contains(prefix, "{{") || strings.HasSuffix(prefix, "{") ||
			strings.IndexByte(prefix, 0) >= 0 || strings.IndexByte(value, 0) >= 0 || !utf8.ValidString(value) {
			t.Skip()
		}
		params, err := json.Marshal(map[string]string{name: value})
		if err != nil {
			t.Fatal(err)
		}
		got, err := launch.RenderArgs([]string{prefix + "{{ ." + name + " }}"}, string(params))
		if err != nil {
			t.Fatalf("RenderArgs() error = %v", err)
		}
		if want := prefix + value; got[0] != want {
			t.Fatalf("RenderArgs() = %q, want %q", got[0], want)
		}
	})
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
