package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pair    string
		key     string
		want    any
		wantErr bool
	}{
		{pair: "day=2024-05-01", key: "day", want: "2024-05-01"},
		{pair: "n=42", key: "n", want: json.Number("42")},
		{pair: "big=9007199254740993", key: "big", want: json.Number("9007199254740993")},
		{pair: "ratio=-1.5e3", key: "ratio", want: json.Number("-1.5e3")},
		{pair: "on=true", key: "on", want: true},
		{pair: "off=false", key: "off", want: false},
		{pair: "none=null", key: "none", want: nil},
		{pair: `quoted="42"`, key: "quoted", want: "42"},
		{pair: `obj={"a": [1, "b"]}`, key: "obj", want: map[string]any{"a": []any{json.Number("1"), "b"}}},
		{pair: "empty=", key: "empty", want: ""},
		{pair: "zeros=007", key: "zeros", want: "007"},
		{pair: "words=two words", key: "words", want: "two words"},
		{pair: "trailing=1 2", key: "trailing", want: "1 2"},
		{pair: "eq=a=b", key: "eq", want: "a=b"},
		{pair: "TRUE=TRUE", key: "TRUE", want: "TRUE"},
		{pair: "novalue", wantErr: true},
		{pair: "=x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.pair, func(t *testing.T) {
			t.Parallel()
			key, got, err := parseParam(tt.pair)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseParam(%q) succeeded, want an error", tt.pair)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tt.key {
				t.Errorf("key = %q, want %q", key, tt.key)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		pairs   []string
		want    string
		wantErr string
	}{
		{name: "none", want: ""},
		{name: "pairs only", pairs: []string{"b=1", "a=x"}, want: `{"a":"x","b":1}`},
		{name: "pairs override json", json: `{"a": 1, "big": 9007199254740993}`, pairs: []string{"a=2"}, want: `{"a":2,"big":9007199254740993}`},
		{name: "html kept readable", pairs: []string{"q=<a&b>"}, want: `{"q":"<a&b>"}`},
		{name: "json not an object", json: `[1]`, wantErr: "--params-json must be a JSON object"},
		{name: "json invalid", json: `{"a":`, wantErr: "--params-json: invalid JSON"},
		{name: "json with trailing text", json: `{} {}`, wantErr: "unexpected text after the value"},
		{name: "bad pair", pairs: []string{"x"}, wantErr: `-p "x": want key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildParameters(tt.json, tt.pairs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("buildParameters = %s, want %s", got, tt.want)
			}
		})
	}
}
