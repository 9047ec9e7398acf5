package docker

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

type recordSink struct {
	mu    sync.Mutex
	lines []launch.LogLine
}

func (s *recordSink) Line(l launch.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, l)
}

func TestEntryWriter(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2025, 10, 26, 0, 59, 59, 123456789, time.UTC)
	t2 := t1.Add(time.Millisecond)
	t3 := t1.Add(2 * time.Millisecond)
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000000Z07:00") }

	tests := []struct {
		name    string
		entries []string
		max     int
		want    []launch.LogLine
	}{
		{
			name:    "one line per entry, stamped by the engine",
			entries: []string{stamp(t1) + " first\n", stamp(t2) + " second line\n"},
			want: []launch.LogLine{
				{Stream: launch.StreamStdout, Text: "first", Time: t1},
				{Stream: launch.StreamStdout, Text: "second line", Time: t2},
			},
		},
		{
			name:    "a long line in pieces, stamped by its last",
			entries: []string{stamp(t1) + " aaa", stamp(t2) + " bbb", stamp(t3) + " ccc\n"},
			want:    []launch.LogLine{{Stream: launch.StreamStdout, Text: "aaabbbccc", Time: t3}},
		},
		{
			name:    "a long line in pieces, truncated",
			entries: []string{stamp(t1) + " aaaa", stamp(t2) + " bbbb\n"},
			max:     3,
			want:    []launch.LogLine{{Stream: launch.StreamStdout, Text: "aaa… [truncated 5 bytes]", Time: t2, Truncated: true}},
		},
		{
			name:    "last line without a newline",
			entries: []string{stamp(t1) + " done"},
			want:    []launch.LogLine{{Stream: launch.StreamStdout, Text: "done", Time: t1}},
		},
		{
			name:    "an entry without a timestamp is taken whole",
			entries: []string{stamp(t1) + " first\n", "not a stamp\n"},
			want: []launch.LogLine{
				{Stream: launch.StreamStdout, Text: "first", Time: t1},
				{Stream: launch.StreamStdout, Text: "not a stamp", Time: t1},
			},
		},
		{
			name:    "spaces after the timestamp are kept",
			entries: []string{stamp(t1) + "   indented \n"},
			want:    []launch.LogLine{{Stream: launch.StreamStdout, Text: "  indented ", Time: t1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &recordSink{}
			w := newEntryWriter(launch.StreamStdout, s, tt.max)
			for _, e := range tt.entries {
				if n, err := w.Write([]byte(e)); n != len(e) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", e, n, err)
				}
			}
			w.lines.Close()
			if diff := cmp.Diff(tt.want, s.lines); diff != "" {
				t.Errorf("lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSkipSink(t *testing.T) {
	t.Parallel()
	rec := &recordSink{}
	s := &skipSink{sink: rec, skip: 2}
	for _, text := range strings.Fields("a b c d") {
		s.Line(launch.LogLine{Stream: launch.StreamStdout, Text: text})
	}
	var got []string
	for _, l := range rec.lines {
		got = append(got, l.Text)
	}
	if diff := cmp.Diff([]string{"c", "d"}, got); diff != "" {
		t.Errorf("lines passed mismatch (-want +got):\n%s", diff)
	}
	if s.lines() != 4 {
		t.Errorf("lines() = %d, want 4", s.lines())
	}
}
