package zic

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseLine checks that no input makes ParseLine panic, and that every line
// it accepts prints as text that parses back to the same Line.
func FuzzParseLine(f *testing.F) {
	for _, seed := range []string{
		"R E 1981 ma - Mar lastSu 1u 1 S",
		"R IE 1971 o - O 31 2u -1 -",
		"Z America/New_York -4:56:2 - LMT 1883 N 18 17u",
		"1 c CE%sT 1945 May 24 2",
		"L Europe/Zurich Europe/Vaduz",
		`Z Etc/Test 0 - "A #B"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		l, err := ParseLine(text)
		if err != nil {
			return
		}
		printed := l.String()
		again, err := ParseLine(printed)
		if err != nil {
			t.Fatalf("ParseLine(%q) printed as %q, which does not parse: %v", text, printed, err)
		}
		if diff := cmp.Diff(l, again); diff != "" {
			t.Fatalf("ParseLine(%q) printed as %q does not round-trip (-first +second):\n%s", text, printed, diff)
		}
	})
}
