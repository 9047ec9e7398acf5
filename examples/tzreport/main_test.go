package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runForTest runs the job in-process with the given flags and environment and
// returns its exit code, stdout and stderr.
func runForTest(t *testing.T, args []string, env map[string]string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), invocation{
		args:   args,
		getenv: func(k string) string { return env[k] },
		stdout: &stdout,
		stderr: &stderr,
		now:    func() time.Time { return fixedNow },
	})
	return code, stdout.String(), stderr.String()
}

func paramsJSON(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode parameters: %v", err)
	}
	return string(b)
}

func readSummary(t *testing.T, dir string) summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("read summary.json: %v", err)
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode summary.json: %v", err)
	}
	return s
}

func findZone(s summary, name string) (zoneResult, bool) {
	for _, z := range s.Zones {
		if z.Name == name {
			return z, true
		}
	}
	return zoneResult{}, false
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		params     map[string]any
		wantYear   int
		wantTitle  string
		wantTotals totals
		wantTop    []countryCount
		wantZone   zoneResult
	}{
		{
			name:      "defaults",
			params:    map[string]any{},
			wantYear:  2025,
			wantTitle: "# Time zones in 2025 (all areas)",
			wantTotals: totals{Zones: 312, ObservingDST: 108, Countries: 247, Links: 151,
				OtherZones: 135},
			wantTop: []countryCount{
				{"US", "United States", 29}, {"RU", "Russia", 27}, {"CA", "Canada", 23},
				{"BR", "Brazil", 16}, {"AU", "Australia", 13}, {"AR", "Argentina", 12},
				{"MX", "Mexico", 12}, {"AQ", "Antarctica", 11}, {"KZ", "Kazakhstan", 7},
				{"CL", "Chile", 4},
			},
			wantZone: zoneResult{
				Name: "America/New_York", Countries: []string{"US"},
				StdOffset: "-05:00", StdOffsetSeconds: -18000,
				StartOffset: "-05:00", StartOffsetSeconds: -18000, StartAbbrev: "EST",
				MidOffset: "-04:00", MidOffsetSeconds: -14400, MidAbbrev: "EDT",
				ObservesDST: true, Changes: 2,
			},
		},
		{
			name:      "Europe in 2025, top 3",
			params:    map[string]any{"continent": "Europe", "top_n": 3, "as_of_year": 2025},
			wantYear:  2025,
			wantTitle: "# Time zones in 2025 (Europe)",
			wantTotals: totals{Zones: 38, ObservingDST: 27, Countries: 50, Links: 12,
				OtherZones: 14},
			wantTop: []countryCount{{"RU", "Russia", 9}, {"DE", "Germany", 2}, {"UA", "Ukraine", 2}},
			wantZone: zoneResult{
				Name: "Europe/Dublin", Countries: []string{"IE"},
				StdOffset: "+01:00", StdOffsetSeconds: 3600,
				StartOffset: "+00:00", StartOffsetSeconds: 0, StartAbbrev: "GMT",
				MidOffset: "+01:00", MidOffsetSeconds: 3600, MidAbbrev: "IST",
				ObservesDST: true, Changes: 2,
			},
		},
		{
			name:      "Asia in 1970",
			params:    map[string]any{"continent": "Asia", "as_of_year": 1970},
			wantYear:  1970,
			wantTitle: "# Time zones in 1970 (Asia)",
			wantZone: zoneResult{
				Name: "Asia/Kolkata", Countries: []string{"IN"},
				StdOffset: "+05:30", StdOffsetSeconds: 19800,
				StartOffset: "+05:30", StartOffsetSeconds: 19800, StartAbbrev: "IST",
				MidOffset: "+05:30", MidOffsetSeconds: 19800, MidAbbrev: "IST",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "nested", "out")
			tt.params["output_dir"] = out
			env := map[string]string{envParameters: paramsJSON(t, tt.params)}
			code, stdout, stderr := runForTest(t, []string{"--data", "data"}, env)
			if code != exitOK {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing on a clean run", stderr)
			}

			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if got, want := lines[len(lines)-1], filepath.Join(out, "report.md"); got != want {
				t.Errorf("last stdout line = %q, want the report's absolute path %q", got, want)
			}
			for _, step := range []string{"params", "extract", "validate", "transform", "load"} {
				if !strings.Contains(stdout, "step="+step+" ") {
					t.Errorf("stdout has no step=%s line:\n%s", step, stdout)
				}
			}

			s := readSummary(t, out)
			if s.AsOfYear != tt.wantYear || s.TZDataVersion != "2025b" {
				t.Errorf("summary year %d version %q, want %d 2025b", s.AsOfYear, s.TZDataVersion, tt.wantYear)
			}
			if tt.wantTotals != (totals{}) {
				if diff := cmp.Diff(tt.wantTotals, s.Totals); diff != "" {
					t.Errorf("totals mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantTop, s.TopCountries); diff != "" {
					t.Errorf("top countries mismatch (-want +got):\n%s", diff)
				}
			}
			z, ok := findZone(s, tt.wantZone.Name)
			if !ok {
				t.Fatalf("summary has no zone %s", tt.wantZone.Name)
			}
			if diff := cmp.Diff(tt.wantZone, z); diff != "" {
				t.Errorf("zone mismatch (-want +got):\n%s", diff)
			}
			sum := 0
			for _, o := range s.StdOffsets {
				sum += o.Zones
			}
			if sum != s.Totals.Zones {
				t.Errorf("standard offset distribution covers %d zones, want %d", sum, s.Totals.Zones)
			}

			report, err := os.ReadFile(filepath.Join(out, "report.md"))
			if err != nil {
				t.Fatalf("read report.md: %v", err)
			}
			for _, want := range []string{
				tt.wantTitle, "## Countries with the most zones", "## Standard offsets on 1 January",
				"## Daylight saving time in", "| " + tt.wantZone.Name + " |", "No malformed lines",
			} {
				if !strings.Contains(string(report), want) {
					t.Errorf("report.md lacks %q", want)
				}
			}
		})
	}
}

func TestRunFailsOnPurpose(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	env := map[string]string{envParameters: paramsJSON(t, map[string]any{
		"fail_on_purpose": true, "output_dir": out,
	})}
	code, stdout, stderr := runForTest(t, []string{"--data", "data"}, env)
	if code != exitFailed {
		t.Errorf("exit code = %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stdout, "step=extract") || strings.Contains(stdout, "step=validate") {
		t.Errorf("stdout should show extract and stop there:\n%s", stdout)
	}
	if !strings.Contains(stderr, "failing on purpose") {
		t.Errorf("stderr = %q, want the on-purpose failure", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); !os.IsNotExist(err) {
		t.Errorf("report.md exists after a failed run (stat error %v)", err)
	}
}

// copyData copies the committed data into a temporary directory and applies
// edit to the named file's content.
func copyData(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{ziFile, zone1970File, iso3166File} {
		b, err := os.ReadFile(filepath.Join("data", name))
		if err != nil {
			t.Fatalf("read committed data: %v", err)
		}
		if name == file {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatalf("write test data: %v", err)
		}
	}
	return dir
}

func countLines(s string) int { return strings.Count(s, "\n") }

func TestRunWithDamagedData(t *testing.T) {
	t.Parallel()
	ziLines := func() int {
		b, err := os.ReadFile(filepath.Join("data", ziFile))
		if err != nil {
			t.Fatalf("read committed data: %v", err)
		}
		return countLines(string(b))
	}()
	appendLines := func(lines ...string) func(string) string {
		return func(s string) string { return s + strings.Join(lines, "\n") + "\n" }
	}
	bad := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("Q garbage line %d", i))
		}
		return out
	}
	tests := []struct {
		name         string
		file         string
		edit         func(string) string
		wantCode     int
		wantStderr   []string
		wantIssues   []lineIssue
		wantMissing  []string
		wantUnknownC []string
	}{
		{
			name:     "a few malformed lines are reported and skipped",
			file:     ziFile,
			edit:     appendLines("R X 2000 o - Jux 1 0 0 -", "Z Bad/Zone 1 Nope %z"),
			wantCode: exitOK,
			wantStderr: []string{
				fmt.Sprintf(`level=WARN msg="malformed line skipped" step=validate file=tzdata.zi line=%d reason="rule IN: invalid month name \"Jux\""`, ziLines+1),
			},
			wantIssues: []lineIssue{
				{ziFile, ziLines + 1, `rule IN: invalid month name "Jux"`},
				{ziFile, ziLines + 2, `zone Bad/Zone dropped: rule set "Nope" is not defined`},
			},
			wantMissing: []string{}, wantUnknownC: []string{},
		},
		{
			name:     "zone1970.tab rows that do not match the other files",
			file:     zone1970File,
			edit:     appendLines("ZZ\t+0000+00000\tEurope/Atlantis", "FR\t+4852+00220\tEurope/Paris\textra\tfield"),
			wantCode: exitOK,
			wantStderr: []string{
				"zone Europe/Atlantis is not defined in tzdata.zi",
				"country code ZZ is not listed in iso3166.tab",
			},
			wantIssues: []lineIssue{
				{zone1970File, 376, "zone Europe/Atlantis is not defined in tzdata.zi"},
				{zone1970File, 376, "country code ZZ is not listed in iso3166.tab"},
				{zone1970File, 377, "has 5 tab-separated fields, want 3 or 4"},
			},
			wantMissing: []string{"Europe/Atlantis"}, wantUnknownC: []string{"ZZ"},
		},
		{
			name:       "too many malformed lines stop the run",
			file:       ziFile,
			edit:       appendLines(bad(60)...),
			wantCode:   exitFailed,
			wantStderr: []string{"more malformed lines not logged", "refusing to continue", "tzdata.zi has 60 unusable of"},
		},
		{
			name:       "an empty country list stops the run",
			file:       iso3166File,
			edit:       func(string) string { return "# nothing\n" },
			wantCode:   exitFailed,
			wantStderr: []string{"iso3166.tab has no data lines"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := copyData(t, tt.file, tt.edit)
			out := t.TempDir()
			env := map[string]string{envParameters: paramsJSON(t, map[string]any{"output_dir": out})}
			code, _, stderr := runForTest(t, []string{"--data", data}, env)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if tt.wantCode != exitOK {
				return
			}
			s := readSummary(t, out)
			if diff := cmp.Diff(tt.wantIssues, s.Validation.Issues); diff != "" {
				t.Errorf("issues mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMissing, s.Validation.MissingZones); diff != "" {
				t.Errorf("missing zones mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUnknownC, s.Validation.UnknownCountryCodes); diff != "" {
				t.Errorf("unknown country codes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunDataDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		envData  string
		wantCode int
		wantErr  string
	}{
		{name: "from the environment", envData: "data", wantCode: exitOK},
		{name: "flag wins over the environment", args: []string{"--data", "data"}, envData: "nowhere", wantCode: exitOK},
		{name: "missing directory", args: []string{"--data", "no-such-dir"}, wantCode: exitFailed,
			wantErr: "read data file: open no-such-dir/tzdata.zi: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				envDataDir:    tt.envData,
				envParameters: paramsJSON(t, map[string]any{"output_dir": t.TempDir()}),
			}
			code, _, stderr := runForTest(t, tt.args, env)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantErr)
			}
		})
	}
}
