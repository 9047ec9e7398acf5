package params

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nested returns an object nested depth levels deep: {"a":{"a":{}}} is 3.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

// nestedArrays returns an object whose member holds arrays, depth levels in all.
func nestedArrays(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}"
}

// sized returns an object of exactly n bytes: {"a":"xxx…"}.
func sized(n int) string {
	const frame = len(`{"a":""}`)
	return `{"a":"` + strings.Repeat("x", n-frame) + `"}`
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		// want is the expected error; nil means accepted. A Reason ending
		// in "…" is compared as a prefix, for texts that come from
		// encoding/json.
		want *Error
	}{
		{name: "empty object", raw: `{}`},
		{name: "whitespace around", raw: " \t\n{ \"a\" : 1 }\r\n"},
		{name: "all value kinds", raw: `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,"2",[]],"o":{}}`},
		{name: "2^53+1", raw: `{"n":9007199254740993}`},
		{name: "huge integer", raw: `{"n":` + strings.Repeat("9", 1000) + `}`},
		{name: "exponent 1000", raw: `{"n":1e1000}`},
		{name: "exponent -1000", raw: `{"n":1.5E-1000}`},
		{name: "exponent with zeros", raw: `{"n":1e+0001000}`},
		{name: "unicode keys and values", raw: `{"ключ":"значение","名前":"🚀","e\u0301":"ש ל ו ם"}`},
		{name: "escaped NUL and surrogates", raw: `{"a":"\u0000\ud83d\ude80"}`},
		{name: "same key in sibling objects", raw: `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}`},
		{name: "depth 32", raw: nested(32)},
		{name: "array depth 32", raw: nestedArrays(32)},
		{name: "size 64 KiB", raw: sized(MaxSize)},

		{name: "depth 33", raw: nested(33), want: &Error{
			Path:   strings.TrimSuffix(strings.Repeat("a.", 32), "."),
			Reason: "nests deeper than 32 levels",
		}},
		{name: "array depth 33", raw: nestedArrays(33), want: &Error{
			Path:   "a" + strings.Repeat("[0]", 31),
			Reason: "nests deeper than 32 levels",
		}},
		{name: "size 64 KiB + 1", raw: sized(MaxSize + 1), want: &Error{
			Reason: "must be at most 65536 bytes, got 65537",
		}},
		{name: "empty text", raw: ``, want: &Error{Reason: "must be a JSON object, got empty text"}},
		{name: "only spaces", raw: "  \n", want: &Error{Reason: "must be a JSON object, got empty text"}},
		{name: "top-level array", raw: `[{"a":1}]`, want: &Error{Reason: "must be a JSON object"}},
		{name: "top-level null", raw: `null`, want: &Error{Reason: "must be a JSON object"}},
		{name: "top-level string", raw: `"{}"`, want: &Error{Reason: "must be a JSON object"}},
		{name: "top-level number", raw: `1`, want: &Error{Reason: "must be a JSON object"}},
		{name: "duplicate top-level key", raw: `{"a":1,"b":2,"a":3}`, want: &Error{Path: "a", Reason: "duplicate key"}},
		{name: "duplicate nested key", raw: `{"o":{"x":[{"k":1,"k":1}]}}`, want: &Error{Path: "o.x[0].k", Reason: "duplicate key"}},
		{name: "duplicate key spelled with escapes", raw: `{"é":1,"\u00e9":2}`, want: &Error{Path: `["é"]`, Reason: "duplicate key"}},
		{name: "NaN", raw: `{"a":NaN}`, want: &Error{Path: "a", Reason: "NaN and Infinity are not JSON numbers"}},
		{name: "Infinity", raw: `{"a":Infinity}`, want: &Error{Path: "a", Reason: "NaN and Infinity are not JSON numbers"}},
		{name: "-Infinity in array", raw: `{"a":[1, -Infinity]}`, want: &Error{Path: "a[1]", Reason: "NaN and Infinity are not JSON numbers"}},
		{name: "exponent 1001", raw: `{"a":{"b":1e1001}}`, want: &Error{Path: "a.b", Reason: "number exponent must be between -1000 and 1000"}},
		{name: "exponent -99999999", raw: `{"a":[1e-99999999]}`, want: &Error{Path: "a[0]", Reason: "number exponent must be between -1000 and 1000"}},
		{name: "invalid UTF-8 in value", raw: "{\"a\":\"\xff\"}", want: &Error{Reason: "must be valid UTF-8"}},
		{name: "lone surrogate bytes", raw: "{\"a\":\"\xed\xa0\x80\"}", want: &Error{Reason: "must be valid UTF-8"}},
		{name: "trailing object", raw: `{}{}`, want: &Error{Reason: "unexpected text after the JSON object at offset 2"}},
		{name: "trailing garbage", raw: `{"a":1} x`, want: &Error{Reason: "unexpected text after the JSON object at offset 8"}},
		{name: "truncated", raw: `{"a":[1,`, want: &Error{Path: "a[1]", Reason: "invalid JSON: unexpected end of text"}},
		{name: "trailing comma", raw: `{"a":1,}`, want: &Error{Reason: "invalid JSON at offset …"}},
		{name: "single quotes", raw: `{'a':1}`, want: &Error{Reason: "invalid JSON at offset …"}},
		{name: "bad literal", raw: `{"a":[{"x":tru}]}`, want: &Error{Path: "a[0].x", Reason: "invalid JSON at offset …"}},
		{name: "leading zero", raw: `{"a":01}`, want: &Error{Reason: "invalid JSON at offset …"}},
		{name: "raw control character", raw: "{\"a\":\"\n\"}", want: &Error{Path: "a", Reason: "invalid JSON at offset …"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.raw)
			checkError(t, err, tt.want)
		})
	}
}

// checkError compares err with want, treating a Reason that ends in "…" as
// a prefix.
func checkError(t *testing.T, err error, want *Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	var got *Error
	if !errors.As(err, &got) {
		t.Fatalf("error = %v (%T), want *Error %v", err, err, want)
	}
	if prefix, ok := strings.CutSuffix(want.Reason, "…"); ok && strings.HasPrefix(got.Reason, prefix) {
		got = &Error{Path: got.Path, Reason: want.Reason}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Reason: "must be a JSON object"}, "must be a JSON object"},
		{&Error{Path: "top_n", Reason: "must be <= 100"}, `parameter "top_n": must be <= 100`},
		{&Error{Path: `o["a b"]`, Reason: "is required"}, `parameter "o[\"a b\"]": is required`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
