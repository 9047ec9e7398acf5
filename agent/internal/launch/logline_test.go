package launch_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/clock"
)

// recorder is a LogSink that keeps every line.
type recorder struct {
	mu    sync.Mutex
	lines []launch.LogLine
}

func (r *recorder) Line(l launch.LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
}

func (r *recorder) all() []launch.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]launch.LogLine(nil), r.lines...)
}

var t0 = time.Date(2025, 3, 30, 1, 59, 0, 0, time.UTC)

func TestLineWriter(t *testing.T) {
	t.Parallel()
	line := func(text string) launch.LogLine {
		return launch.LogLine{Stream: launch.StreamStderr, Text: text, Time: t0}
	}
	cut := func(text string) launch.LogLine {
		l := line(text)
		l.Truncated = true
		return l
	}
	tests := []struct {
		name   string
		max    int
		writes []string
		want   []launch.LogLine
	}{
		{name: "lines", writes: []string{"a\nb\n"}, want: []launch.LogLine{line("a"), line("b")}},
		{name: "empty lines kept", writes: []string{"\n\nx\n"}, want: []launch.LogLine{line(""), line(""), line("x")}},
		{name: "CRLF endings removed", writes: []string{"a\r\nb\r\n"}, want: []launch.LogLine{line("a"), line("b")}},
		{name: "lone CR kept", writes: []string{"a\rb\n"}, want: []launch.LogLine{line("a\rb")}},
		{name: "partial last line flushed on close", writes: []string{"a\nlast"}, want: []launch.LogLine{line("a"), line("last")}},
		{name: "nothing written", writes: nil, want: nil},
		{name: "line split across writes", writes: []string{"he", "llo\nwo", "rld\n"}, want: []launch.LogLine{line("hello"), line("world")}},
		{name: "CRLF split across writes", writes: []string{"a\r", "\nb"}, want: []launch.LogLine{line("a"), line("b")}},
		{name: "long line truncated", max: 4, writes: []string{"abcdefgh\nok\n"}, want: []launch.LogLine{cut("abcd… [truncated 4 bytes]"), line("ok")}},
		{name: "line of exactly the limit", max: 4, writes: []string{"abcd\n"}, want: []launch.LogLine{line("abcd")}},
		{name: "line of exactly the limit with CRLF", max: 4, writes: []string{"abcd\r\n"}, want: []launch.LogLine{line("abcd")}},
		{name: "truncated line with CRLF", max: 4, writes: []string{"abcdef\r\n"}, want: []launch.LogLine{cut("abcd… [truncated 2 bytes]")}},
		{name: "truncated across writes", max: 4, writes: []string{"ab", "cdef", "gh", "\n"}, want: []launch.LogLine{cut("abcd… [truncated 4 bytes]")}},
		{name: "truncated partial line flushed on close", max: 3, writes: []string{"abcdef"}, want: []launch.LogLine{cut("abc… [truncated 3 bytes]")}},
		{name: "cut before a split two-byte rune", max: 5, writes: []string{"ééé\n"}, want: []launch.LogLine{cut("éé… [truncated 2 bytes]")}},
		{name: "cut before a split four-byte rune", max: 2, writes: []string{"😀x\n"}, want: []launch.LogLine{cut("… [truncated 5 bytes]")}},
		{name: "rune split across writes kept whole", writes: []string{"\xf0\x9f", "\x98\x80\n"}, want: []launch.LogLine{line("😀")}},
		{name: "invalid UTF-8 replaced", writes: []string{"a\xffb\n"}, want: []launch.LogLine{line("a\uFFFDb")}},
		{
			name:   "default limit",
			writes: []string{strings.Repeat("x", launch.DefaultMaxLineBytes+10) + "\n"},
			want:   []launch.LogLine{cut(strings.Repeat("x", launch.DefaultMaxLineBytes) + "… [truncated 10 bytes]")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			w := launch.NewLineWriter(launch.StreamStderr, &rec, tt.max, clock.NewFake(t0))
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, rec.all()); diff != "" {
				t.Errorf("lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLineWriterClosed(t *testing.T) {
	t.Parallel()
	var rec recorder
	w := launch.NewLineWriter(launch.StreamStdout, &rec, 0, nil)
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatalf("Write() error = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close() error = %v", err)
	}
	if _, err := w.Write([]byte("y\n")); !errors.Is(err, launch.ErrWriterClosed) {
		t.Errorf("Write() after Close error = %v, want ErrWriterClosed", err)
	}
	if got := len(rec.all()); got != 1 {
		t.Errorf("got %d lines, want 1", got)
	}
}

// FuzzLineWriter checks that lines do not depend on how the output is split
// into writes, are valid UTF-8, and put back together give the output when
// nothing was truncated or replaced.
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), uint(2), uint8(3))
	f.Add([]byte("ééé\n😀😀\n"), uint(1), uint8(5))
	f.Add([]byte("\xff\xfe\n\n"), uint(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint, limit uint8) {
		maxBytes := int(limit%64) + 1
		at := int(split % uint(len(data)+1))
		whole := writeAll(t, maxBytes, data)
		parts := writeAll(t, maxBytes, data[:at], data[at:])
		if diff := cmp.Diff(whole, parts); diff != "" {
			t.Fatalf("lines depend on the split at %d (-whole +split):\n%s", at, diff)
		}

		truncated := false
		texts := make([]string, len(whole))
		for i, l := range whole {
			if !utf8.ValidString(l.Text) {
				t.Fatalf("line %q is not valid UTF-8", l.Text)
			}
			truncated = truncated || l.Truncated
			texts[i] = l.Text
		}
		if truncated || !utf8.Valid(data) || strings.Contains(string(data), "\r") {
			return
		}
		got := strings.Join(texts, "\n")
		if len(data) > 0 && data[len(data)-1] == '\n' {
			got += "\n"
		}
		if got != string(data) {
			t.Fatalf("lines joined = %q, want %q", got, data)
		}
	})
}

func writeAll(t *testing.T, maxBytes int, chunks ...[]byte) []launch.LogLine {
	t.Helper()
	var rec recorder
	w := launch.NewLineWriter(launch.StreamStdout, &rec, maxBytes, clock.NewFake(t0))
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			t.Fatalf("Write() error = %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	return rec.all()
}
