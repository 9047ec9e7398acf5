package params

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		defaults  string
		overrides string
		want      string
	}{
		{name: "both empty", want: `{}`},
		{name: "empty objects", defaults: `{}`, overrides: ` { } `, want: `{}`},
		{name: "defaults only", defaults: `{"a":1}`, want: `{"a":1}`},
		{name: "overrides only", overrides: `{"a":1}`, want: `{"a":1}`},
		{name: "override wins", defaults: `{"a":1,"b":2}`, overrides: `{"b":3}`, want: `{"a":1,"b":3}`},
		{name: "override with null", defaults: `{"a":1}`, overrides: `{"a":null}`, want: `{"a":null}`},
		{name: "2^53+1 stays exact", defaults: `{"n":1}`, overrides: `{"n":9007199254740993}`, want: `{"n":9007199254740993}`},
		{
			name:     "number text kept",
			defaults: `{"a":1.50,"b":1E+2,"c":-0,"d":0.1e-5,"e":123456789012345678901234567890}`,
			want:     `{"a":1.50,"b":1E+2,"c":-0,"d":0.1e-5,"e":123456789012345678901234567890}`,
		},
		{name: "keys sorted by bytes", defaults: `{"b":1,"a":2,"B":3,"é":4,"10":5,"9":6}`, want: `{"10":5,"9":6,"B":3,"a":2,"b":1,"é":4}`},
		{name: "shallow: nested objects replaced", defaults: `{"o":{"x":1,"y":2}}`, overrides: `{"o":{"y":3}}`, want: `{"o":{"y":3}}`},
		{name: "nested key order kept", defaults: `{"o":{"z":1,"a":2}}`, want: `{"o":{"z":1,"a":2}}`},
		{name: "whitespace removed", defaults: "{ \"a\" : [ 1 ,\n 2 ] , \"s\" : \"x  y\" }", want: `{"a":[1,2],"s":"x  y"}`},
		{name: "HTML characters not escaped", defaults: `{"<k>":"<&>"}`, want: `{"<k>":"<&>"}`},
		{name: "value escapes kept", defaults: `{"a":"\u00e9\n"}`, want: `{"a":"\u00e9\n"}`},
		{name: "escaped key written plainly", defaults: `{"\u00e9":1}`, want: `{"é":1}`},
		{name: "key needing escapes", defaults: `{"a\"b\\c\u0001":1}`, want: `{"a\"b\\c\u0001":1}`},
		{name: "unicode", defaults: `{"名前":"🚀"}`, overrides: `{"ключ":"ש"}`, want: `{"ключ":"ש","名前":"🚀"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Merge(tt.defaults, tt.overrides)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if got != tt.want {
				t.Errorf("Merge = %s, want %s", got, tt.want)
			}
			if err := Check(got); err != nil {
				t.Errorf("Check(merged): %v", err)
			}
			again, err := Merge(got, "")
			if err != nil || again != got {
				t.Errorf("Merge(merged, \"\") = %s, %v; want %s", again, err, got)
			}
		})
	}
}

func TestMergeRoundTripsBigInteger(t *testing.T) {
	t.Parallel()
	got, err := Merge(`{"n":9007199254740993}`, `{"m":-9007199254740993}`)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(got))
	dec.UseNumber()
	var m map[string]json.Number
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["n"] != "9007199254740993" || m["m"] != "-9007199254740993" {
		t.Errorf("decoded %v, want exact 2^53+1 and its negation", m)
	}
}

func TestMergeErrors(t *testing.T) {
	t.Parallel()
	half := `{"%s":"` + strings.Repeat("x", MaxSize/2) + `"}`
	tests := []struct {
		name      string
		defaults  string
		overrides string
		wantText  string
		want      *Error
	}{
		{
			name:     "defaults not an object",
			defaults: `[1]`,
			wantText: "default parameters: must be a JSON object",
			want:     &Error{Reason: "must be a JSON object"},
		},
		{
			name:      "overrides with duplicate key",
			defaults:  `{}`,
			overrides: `{"a":1,"a":2}`,
			wantText:  `parameters: parameter "a": duplicate key`,
			want:      &Error{Path: "a", Reason: "duplicate key"},
		},
		{
			name:      "overrides whitespace only",
			overrides: " ",
			wantText:  "parameters: must be a JSON object, got empty text",
			want:      &Error{Reason: "must be a JSON object, got empty text"},
		},
		{
			name:      "result too large",
			defaults:  strings.Replace(half, "%s", "a", 1),
			overrides: strings.Replace(half, "%s", "b", 1),
			wantText:  "merged parameters must be at most 65536 bytes, got 65551",
			want:      &Error{Reason: "merged parameters must be at most 65536 bytes, got 65551"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Merge(tt.defaults, tt.overrides)
			if err == nil {
				t.Fatalf("Merge = %s, want error", got)
			}
			if err.Error() != tt.wantText {
				t.Errorf("error text = %q, want %q", err.Error(), tt.wantText)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v is not an *Error", err)
			}
			checkError(t, perr, tt.want)
		})
	}
}
