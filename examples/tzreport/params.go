package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Parameter bounds and defaults. The year range covers the Unix era up to the
// end of the century, where the tz database's rules still say something useful.
const (
	minAsOfYear      = 1970
	maxAsOfYear      = 2100
	minTopN          = 1
	maxTopN          = 100
	defaultTopN      = 10
	defaultOutputDir = "./tzreport-out"
	// maxShownValue bounds how much of a rejected value an error message quotes.
	maxShownValue = 40
)

// continents are the areas of the tz database that zone1970.tab names zones in,
// accepted by the continent parameter.
var continents = []string{
	"Africa", "America", "Antarctica", "Asia", "Atlantic",
	"Australia", "Europe", "Indian", "Pacific",
}

// parameterNames lists every accepted parameter, sorted, for error messages.
var parameterNames = []string{"as_of_year", "continent", "fail_on_purpose", "output_dir", "top_n"}

// parameters are the job's inputs, decoded from FERRY_PARAMETERS.
type parameters struct {
	// AsOfYear is the year the offsets and DST flags are computed for;
	// default: the current year.
	AsOfYear int
	// TopN is how many countries the "most zones" table lists; default 10.
	TopN int
	// Continent keeps only zones whose name starts with it; "" keeps all.
	Continent string
	// OutputDir receives report.md and summary.json; default ./tzreport-out.
	OutputDir string
	// FailOnPurpose makes the run fail after the extract step, to demonstrate
	// retries.
	FailOnPurpose bool
}

// paramError is a rejected parameter; its text is one line that names the
// parameter and says what is allowed.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string {
	if e.param == "" {
		return "FERRY_PARAMETERS: " + e.msg
	}
	return fmt.Sprintf("parameter %q: %s", e.param, e.msg)
}

// rawParameters keeps each value as JSON text so that null can be told apart
// from an absent parameter and each value checked for its own type.
type rawParameters struct {
	AsOfYear      json.RawMessage `json:"as_of_year"`
	TopN          json.RawMessage `json:"top_n"`
	Continent     json.RawMessage `json:"continent"`
	OutputDir     json.RawMessage `json:"output_dir"`
	FailOnPurpose json.RawMessage `json:"fail_on_purpose"`
}

// decodeParameters decodes the JSON object Ferry passes in FERRY_PARAMETERS.
// An empty string means all defaults. Every failure is a *paramError.
func decodeParameters(text string, now time.Time) (parameters, error) {
	p := parameters{
		AsOfYear:  now.UTC().Year(),
		TopN:      defaultTopN,
		OutputDir: defaultOutputDir,
	}
	if strings.TrimSpace(text) == "" {
		return p, nil
	}
	if !strings.HasPrefix(strings.TrimSpace(text), "{") {
		return parameters{}, &paramError{msg: "must be a JSON object"}
	}

	var raw rawParameters
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return parameters{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return parameters{}, &paramError{msg: "must hold a single JSON object and nothing after it"}
	}
	if err := checkExactNames(text); err != nil {
		return parameters{}, err
	}

	var err error
	if raw.AsOfYear != nil {
		if p.AsOfYear, err = intParam("as_of_year", raw.AsOfYear, minAsOfYear, maxAsOfYear); err != nil {
			return parameters{}, err
		}
	}
	if raw.TopN != nil {
		if p.TopN, err = intParam("top_n", raw.TopN, minTopN, maxTopN); err != nil {
			return parameters{}, err
		}
	}
	if raw.Continent != nil {
		s, ok := decodeValue(raw.Continent).(string)
		if !ok || !slices.Contains(continents, s) {
			return parameters{}, &paramError{param: "continent", msg: fmt.Sprintf(
				"must be one of %s, got %s", strings.Join(continents, ", "), shown(raw.Continent))}
		}
		p.Continent = s
	}
	if raw.OutputDir != nil {
		s, ok := decodeValue(raw.OutputDir).(string)
		if !ok || s == "" || strings.ContainsRune(s, 0) {
			return parameters{}, &paramError{param: "output_dir", msg: fmt.Sprintf(
				"must be a non-empty directory path string, got %s", shown(raw.OutputDir))}
		}
		p.OutputDir = s
	}
	if raw.FailOnPurpose != nil {
		b, ok := decodeValue(raw.FailOnPurpose).(bool)
		if !ok {
			return parameters{}, &paramError{param: "fail_on_purpose", msg: fmt.Sprintf(
				"must be true or false, got %s", shown(raw.FailOnPurpose))}
		}
		p.FailOnPurpose = b
	}
	return p, nil
}

// decodeError turns a decoding failure into a one-line *paramError, naming the
// parameter when the failure is an unknown field.
func decodeError(err error) error {
	if quoted, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = quoted
		}
		return unknownParam(name)
	}
	return &paramError{msg: "is not a valid JSON object: " + oneLine(err.Error())}
}

// checkExactNames rejects parameter names that differ from the known ones only
// in case, which encoding/json would otherwise accept.
func checkExactNames(text string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		return &paramError{msg: "is not a valid JSON object: " + oneLine(err.Error())}
	}
	names := slices.Sorted(maps.Keys(fields))
	for _, name := range names {
		if !slices.Contains(parameterNames, name) {
			return unknownParam(name)
		}
	}
	return nil
}

func unknownParam(name string) error {
	return &paramError{param: name, msg: "is not a known parameter; allowed: " +
		strings.Join(parameterNames, ", ")}
}

// decodeValue decodes one JSON value with numbers kept as json.Number. The
// value was already checked as JSON by the outer decoder.
func decodeValue(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return v
}

func intParam(name string, raw json.RawMessage, lo, hi int) (int, error) {
	fail := &paramError{param: name, msg: fmt.Sprintf(
		"must be an integer from %d to %d, got %s", lo, hi, shown(raw))}
	n, ok := decodeValue(raw).(json.Number)
	if !ok {
		return 0, fail
	}
	// JSON Schema counts 2025.0 and 1e1 as integers, so they are accepted too;
	// a float64 holds every integer in range exactly.
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, fail
	}
	return int(f), nil
}

// shown renders a rejected value compactly on one line, cut to a bounded length.
func shown(raw json.RawMessage) string {
	var buf bytes.Buffer
	s := string(raw)
	if json.Compact(&buf, raw) == nil {
		s = buf.String()
	}
	if len(s) > maxShownValue {
		s = strings.ToValidUTF8(s[:maxShownValue], "") + "…"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
