package mask

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naiveSpans finds the merged spans of s covered by patterns the slow way.
func naiveSpans(patterns []string, s string) []span {
	covered := make([]bool, len(s)+1)
	var starts []span
	for _, p := range patterns {
		for i := 0; i+len(p) <= len(s); i++ {
			if s[i:i+len(p)] == p {
				starts = append(starts, span{i, i + len(p)})
			}
		}
	}
	// Merge spans that overlap or touch, as find does.
	for _, sp := range starts {
		for i := sp.start; i < sp.end; i++ {
			covered[i] = true
		}
	}
	var out []span
	for i := 0; i < len(s); i++ {
		if !covered[i] {
			continue
		}
		j := i
		for j < len(s) && covered[j] {
			j++
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

// TestAutomatonMatchesNaive compares find with a brute-force search on
// random patterns over small alphabets, which make deep failure chains and
// exercise both the dense and the sparse transitions.
func TestAutomatonMatchesNaive(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for _, alphabet := range []string{"ab", "abc", "abcdefgh*"} {
		for round := range 200 {
			gen := func(n int) string {
				var b strings.Builder
				for range n {
					b.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
				return b.String()
			}
			patterns := make([]string, 1+rng.IntN(6))
			for i := range patterns {
				patterns[i] = gen(1 + rng.IntN(8))
			}
			text := gen(rng.IntN(60))
			a := newAutomaton(patterns)
			got, _ := a.find(text)
			if diff := cmp.Diff(naiveSpans(patterns, text), got, cmp.AllowUnexported(span{})); diff != "" {
				t.Fatalf("alphabet %q round %d: find(%q) with %q mismatch (-naive +find):\n%s",
					alphabet, round, text, patterns, diff)
			}
		}
	}
}

// TestAutomatonFinalState checks that the final state's depth is the longest
// end of the text that starts a pattern.
func TestAutomatonFinalState(t *testing.T) {
	t.Parallel()
	a := newAutomaton([]string{"password123", "passport"})
	tests := []struct {
		text string
		want int32
	}{
		{"my pass", 4},
		{"my passwo", 6},
		{"my passp", 5},
		{"nothing", 0},
		{"password123", 11}, // a whole pattern is its own longest start
	}
	for _, tt := range tests {
		_, state := a.find(tt.text)
		if got := a.depth[state]; got != tt.want {
			t.Errorf("find(%q) final depth = %d, want %d", tt.text, got, tt.want)
		}
	}
}
