// Package mask hides resolved secret values in text before it leaves the
// agent: a run's log lines, the agent's own log records, and error messages
// sent in reports.
//
// A [Masker] is built once per run from the run's resolved secrets and
// replaces every occurrence of each value, and of the forms a program is
// likely to print it in (JSON or Go string escapes, URL escapes, hex and
// base64), with [Replacement]. Matching is exact and byte-wise, in one pass
// of an Aho–Corasick automaton, so the cost does not grow with the number of
// secrets.
//
// Masking is a safety net, not a guarantee: a value printed in a form not
// listed here (reversed, upper-cased, compressed, split across lines,
// base64 wrapped at 76 columns) passes through. This package never logs
// and never returns a value it was given.
package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Replacement is what a masked value is replaced with.
const Replacement = "***"

// DefaultMinLen is the shortest value masked, in bytes, when New is given no
// minimum. It is also the floor: the replacement is 3 bytes long, and
// masking shorter strings would blank out ordinary words of every log.
const DefaultMinLen = 4

// Masker masks secret values in text. It is immutable and safe for
// concurrent use. A nil *Masker masks nothing.
type Masker struct {
	ac     *automaton
	minLen int
}

// New returns a Masker for secrets, which maps a name (the run's environment
// variable) to a resolved value. minLen is the shortest value masked, in
// bytes; zero or less means [DefaultMinLen], and less than DefaultMinLen is
// raised to it. A value shorter than minLen is not masked, and a warning
// naming it (never showing it) is returned for each. Variants of a value
// shorter than minLen are left out too.
func New(secrets map[string]string, minLen int) (*Masker, []string) {
	minLen = max(minLen, DefaultMinLen)
	var warnings []string
	seen := map[string]bool{}
	var patterns []string
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		v := secrets[name]
		if len(v) < minLen {
			warnings = append(warnings, fmt.Sprintf(
				"secret %s is shorter than %d bytes, so it is not masked in logs", name, minLen))
			continue
		}
		for _, p := range variants(v) {
			if len(p) >= minLen && !seen[p] {
				seen[p] = true
				patterns = append(patterns, p)
			}
		}
	}
	m := &Masker{minLen: minLen}
	if len(patterns) > 0 {
		m.ac = newAutomaton(patterns)
	}
	return m, warnings
}

// variants returns v and the forms it is likely to be printed in. Which
// base64 forms are caught, and which are not:
//
// base64 turns each group of 3 bytes into 4 characters, so the encoding of v
// inside a longer text depends on v's offset modulo 3 in that text and on
// the bytes around it. For each offset k (0, 1, 2) the encoding of v,
// preceded by k other bytes, has an inner part that depends on v alone: the
// characters after the first ceil(8k/6), which mix in the preceding bytes,
// and before the last one when v ends inside a group, which mixes in the
// following byte. Masking those three inner parts, in both the standard and
// the URL alphabet, catches v anywhere inside any base64-encoded text (a
// basic-auth header, a JSON blob in a JWT), leaving up to 3 characters at
// each end that carry a few bits of v. Also masked are the whole encodings of
// v alone, with and without padding. Not caught: base64 broken into lines
// (PEM, MIME), and inner parts shorter than the minimum length, which happens
// for values of 4 or 5 bytes.
func variants(v string) []string {
	out := []string{v, strings.ToValidUTF8(v, "\uFFFD")}

	// A run's log is cut into lines, so each line of a multi-line value (a
	// PEM key) is masked on its own.
	if strings.Contains(v, "\n") {
		for line := range strings.SplitSeq(v, "\n") {
			out = append(out, strings.TrimSuffix(line, "\r"))
		}
	}

	// JSON, as encoding/json writes it (HTML characters escaped) and as
	// most other encoders do (not escaped); Go's %q and slog's text format.
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		out = append(out, string(b[1:len(b)-1]))
	}
	q := strconv.Quote(v)
	out = append(out, q[1:len(q)-1])

	// In URLs: a password in a connection string or a query.
	out = append(out, url.QueryEscape(v), url.PathEscape(v))

	out = append(out, hex.EncodeToString([]byte(v)), strings.ToUpper(hex.EncodeToString([]byte(v))))

	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		out = append(out, e.EncodeToString([]byte(v)))
		raw := e.WithPadding(base64.NoPadding)
		for k := range 3 {
			shifted := make([]byte, k+len(v))
			copy(shifted[k:], v)
			enc := raw.EncodeToString(shifted)
			lead := (8*k + 5) / 6
			trail := 0
			if len(shifted)%3 != 0 {
				trail = 1
			}
			if lead < len(enc)-trail {
				out = append(out, enc[lead:len(enc)-trail])
			}
			if k == 0 {
				// The unpadded encoding of v alone ends with the
				// characters the inner part leaves out.
				out = append(out, enc)
			}
		}
	}
	return out
}

// MaskString returns s with every occurrence of a secret, or of one of its
// variants, replaced by [Replacement]. Overlapping or adjacent occurrences
// are replaced as one, so the longest match always wins and no part of a
// value is left beside a replacement.
func (m *Masker) MaskString(s string) string {
	out, _ := m.mask(s)
	return out
}

// mask masks s and returns the automaton's state after the last byte of the
// result. It masks until nothing matches, because a value that holds '*'
// could be completed by a replacement; each round makes s shorter, since
// every span replaced is longer than the replacement.
func (m *Masker) mask(s string) (string, int32) {
	if m == nil || m.ac == nil {
		return s, 0
	}
	for {
		spans, state := m.ac.find(s)
		if len(spans) == 0 {
			return s, state
		}
		var b strings.Builder
		b.Grow(len(s))
		prev := 0
		for _, sp := range spans {
			b.WriteString(s[prev:sp.start])
			b.WriteString(Replacement)
			prev = sp.end
		}
		b.WriteString(s[prev:])
		s = b.String()
	}
}

// maskTail masks s, then also masks its end when that end is the start of a
// value at least the minimum length long: the rest of the value was cut off.
func (m *Masker) maskTail(s string) string {
	s, state := m.mask(s)
	if m == nil || m.ac == nil {
		return s
	}
	if d := int(m.ac.depth[state]); d >= m.minLen {
		s = s[:len(s)-d] + Replacement
	}
	return s
}

// MaskError returns err unchanged if its message holds no secret, and
// otherwise an error whose message is masked. The masked error reports
// errors.Is matches of err but does not unwrap to it, so the original text
// cannot be reached through it. A nil err gives nil.
func (m *Masker) MaskError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := m.MaskString(msg)
	if masked == msg {
		return err
	}
	return &maskedError{msg: masked, err: err}
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string        { return e.msg }
func (e *maskedError) Is(target error) bool { return errors.Is(e.err, target) }
