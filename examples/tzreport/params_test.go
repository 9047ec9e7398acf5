package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixedNow is the clock used by the tests: the default as_of_year is 2025.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// parameterCases are shared by the decoder test and the test that checks the
// JSON schema in ferry.yaml agrees with the decoder. wantErr is the complete
// message for a rejected value, "" for an accepted one.
var parameterCases = []struct {
	name    string
	json    string
	want    parameters
	wantErr string
}{
	{name: "empty object takes defaults", json: `{}`,
		want: parameters{AsOfYear: 2025, TopN: 10, OutputDir: "./tzreport-out"}},
	{name: "every parameter", json: `{"as_of_year": 1999, "top_n": 3, "continent": "Europe",
		"output_dir": "/tmp/out", "fail_on_purpose": true}`,
		want: parameters{AsOfYear: 1999, TopN: 3, Continent: "Europe", OutputDir: "/tmp/out", FailOnPurpose: true}},
	{name: "bounds", json: `{"as_of_year": 2100, "top_n": 100}`,
		want: parameters{AsOfYear: 2100, TopN: 100, OutputDir: "./tzreport-out"}},
	{name: "integral number forms", json: `{"as_of_year": 1970.0, "top_n": 1e1}`,
		want: parameters{AsOfYear: 1970, TopN: 10, OutputDir: "./tzreport-out"}},

	{name: "year too early", json: `{"as_of_year": 1969}`,
		wantErr: `parameter "as_of_year": must be an integer from 1970 to 2100, got 1969`},
	{name: "year too late", json: `{"as_of_year": 2101}`,
		wantErr: `parameter "as_of_year": must be an integer from 1970 to 2100, got 2101`},
	{name: "year as string", json: `{"as_of_year": "2025"}`,
		wantErr: `parameter "as_of_year": must be an integer from 1970 to 2100, got "2025"`},
	{name: "year with fraction", json: `{"as_of_year": 2025.5}`,
		wantErr: `parameter "as_of_year": must be an integer from 1970 to 2100, got 2025.5`},
	{name: "year null", json: `{"as_of_year": null}`,
		wantErr: `parameter "as_of_year": must be an integer from 1970 to 2100, got null`},
	{name: "top_n zero", json: `{"top_n": 0}`,
		wantErr: `parameter "top_n": must be an integer from 1 to 100, got 0`},
	{name: "top_n too large", json: `{"top_n": 101}`,
		wantErr: `parameter "top_n": must be an integer from 1 to 100, got 101`},
	{name: "top_n huge exponent", json: `{"top_n": 1e400}`,
		wantErr: `parameter "top_n": must be an integer from 1 to 100, got 1e400`},
	{name: "top_n as array spread over lines", json: "{\"top_n\": [1,\n 2]}",
		wantErr: `parameter "top_n": must be an integer from 1 to 100, got [1,2]`},
	{name: "unknown continent", json: `{"continent": "Mars"}`,
		wantErr: `parameter "continent": must be one of Africa, America, Antarctica, Asia, Atlantic, Australia, Europe, Indian, Pacific, got "Mars"`},
	{name: "continent in wrong case", json: `{"continent": "europe"}`,
		wantErr: `parameter "continent": must be one of Africa, America, Antarctica, Asia, Atlantic, Australia, Europe, Indian, Pacific, got "europe"`},
	{name: "empty output_dir", json: `{"output_dir": ""}`,
		wantErr: `parameter "output_dir": must be a non-empty directory path string, got ""`},
	{name: "output_dir with NUL", json: `{"output_dir": "a\u0000b"}`,
		wantErr: `parameter "output_dir": must be a non-empty directory path string, got "a\u0000b"`},
	{name: "output_dir as number", json: `{"output_dir": 7}`,
		wantErr: `parameter "output_dir": must be a non-empty directory path string, got 7`},
	{name: "long value is cut", json: `{"output_dir": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}`,
		wantErr: `parameter "output_dir": must be a non-empty directory path string, got ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…`},
	{name: "fail_on_purpose as string", json: `{"fail_on_purpose": "yes"}`,
		wantErr: `parameter "fail_on_purpose": must be true or false, got "yes"`},
	{name: "unknown parameter", json: `{"topn": 5}`,
		wantErr: `parameter "topn": is not a known parameter; allowed: as_of_year, continent, fail_on_purpose, output_dir, top_n`},
	{name: "parameter in wrong case", json: `{"TOP_N": 5}`,
		wantErr: `parameter "TOP_N": is not a known parameter; allowed: as_of_year, continent, fail_on_purpose, output_dir, top_n`},
	{name: "array instead of object", json: `[1]`,
		wantErr: `FERRY_PARAMETERS: must be a JSON object`},
	{name: "number instead of object", json: `5`,
		wantErr: `FERRY_PARAMETERS: must be a JSON object`},
}

func TestDecodeParameters(t *testing.T) {
	t.Parallel()
	for _, tt := range parameterCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeParameters(tt.json, fixedNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeParameters: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parameters mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunRejectsBadParameters checks that each bad input ends the process with
// exit code 2 and exactly one line on stderr, before any work is done.
func TestRunRejectsBadParameters(t *testing.T) {
	t.Parallel()
	type badCase struct {
		name    string
		args    []string
		params  string
		wantErr string
	}
	cases := []badCase{
		{name: "truncated JSON", params: `{"top_n": 5`,
			wantErr: "tzreport: FERRY_PARAMETERS: is not a valid JSON object: unexpected EOF"},
		{name: "two objects", params: `{"top_n": 5} {"top_n": 6}`,
			wantErr: "tzreport: FERRY_PARAMETERS: must hold a single JSON object and nothing after it"},
		{name: "syntax error", params: `{"top_n": 5,}`,
			wantErr: "tzreport: FERRY_PARAMETERS: is not a valid JSON object: invalid character '}' looking for beginning of object key string"},
		{name: "positional argument", args: []string{"extra"}, params: `{}`,
			wantErr: `tzreport: unexpected argument "extra"; parameters come from FERRY_PARAMETERS`},
	}
	for _, pc := range parameterCases {
		if pc.wantErr != "" {
			cases = append(cases, badCase{name: pc.name, params: pc.json, wantErr: "tzreport: " + pc.wantErr})
		}
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--data", "data"}, tt.args...)
			env := map[string]string{envParameters: tt.params}
			code, stdout, stderr := runForTest(t, args, env)
			if code != exitBadRequest {
				t.Errorf("exit code = %d, want %d", code, exitBadRequest)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if got := strings.TrimSuffix(stderr, "\n"); got != tt.wantErr || strings.Contains(got, "\n") {
				t.Errorf("stderr = %q, want the single line %q", stderr, tt.wantErr)
			}
		})
	}
	t.Run("unknown flag", func(t *testing.T) {
		t.Parallel()
		code, _, stderr := runForTest(t, []string{"--nope"}, nil)
		if code != exitBadRequest || !strings.Contains(stderr, "flag provided but not defined: -nope") {
			t.Errorf("exit code %d, stderr %q; want 2 and the unknown flag named", code, stderr)
		}
	})
}

// FuzzDecodeParameters checks that no input panics the decoder, that every
// rejection is a one-line *paramError and that every accepted value is in range.
func FuzzDecodeParameters(f *testing.F) {
	for _, pc := range parameterCases {
		f.Add(pc.json)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := decodeParameters(text, fixedNow)
		if err != nil {
			var pe *paramError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *paramError", err, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error message spans lines: %q", err.Error())
			}
			return
		}
		switch {
		case p.AsOfYear < minAsOfYear || p.AsOfYear > maxAsOfYear:
			t.Fatalf("accepted as_of_year %d", p.AsOfYear)
		case p.TopN < minTopN || p.TopN > maxTopN:
			t.Fatalf("accepted top_n %d", p.TopN)
		case p.Continent != "" && !slices.Contains(continents, p.Continent):
			t.Fatalf("accepted continent %q", p.Continent)
		case p.OutputDir == "" || strings.ContainsRune(p.OutputDir, 0):
			t.Fatalf("accepted output_dir %q", p.OutputDir)
		}
	})
}
