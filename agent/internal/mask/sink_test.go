package mask_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/mask"
)

type collector struct {
	mu    sync.Mutex
	lines []launch.LogLine
}

func (c *collector) Line(l launch.LogLine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, l)
}

func (c *collector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.lines {
		out = append(out, l.Text)
	}
	return out
}

// TestSinkMasksAcrossWrites writes output one byte at a time through a real
// LineWriter, so every value is split across many writes.
func TestSinkMasksAcrossWrites(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"PW": pw, "TOKEN": token}, 0)
	var got collector
	w := launch.NewLineWriter(launch.StreamStdout, m.Sink(&got), 0, nil)
	js, err := json.Marshal(map[string]string{"t": token})
	if err != nil {
		t.Fatal(err)
	}
	out := "connecting with " + pw + "\r\n" +
		string(js) + "\n" +
		token + "\n" +
		"last " + pw
	for i := 0; i < len(out); i++ {
		if _, err := w.Write([]byte{out[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"connecting with ***", `{"t":"***"}`, "***", "***", "last ***"}
	if diff := cmp.Diff(want, got.texts()); diff != "" {
		t.Errorf("lines mismatch (-want +got):\n%s", diff)
	}
	for _, l := range got.lines {
		if l.Stream != launch.StreamStdout || l.Time.IsZero() {
			t.Errorf("line %+v lost its stream or time", l)
		}
	}
}

// TestSinkMasksValueCutByTruncation checks that the start of a value left
// at the cut of a truncated line is masked, and that the marker launch
// writes is the one the sink looks for.
func TestSinkMasksValueCutByTruncation(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"PW": pw}, 0)
	tests := []struct {
		name     string
		line     string
		max      int
		wantHead string
	}{
		{"cut inside the value", "key=" + pw + " and more", 4 + 8, "key=***"},
		{"cut after 3 bytes of it is kept", "key=" + pw, 4 + 3, "key=hun"},
		{"cut after the value", "key=" + pw + " tail", 4 + len(pw) + 2, "key=*** t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got collector
			w := launch.NewLineWriter(launch.StreamStderr, m.Sink(&got), tt.max, nil)
			if _, err := w.Write([]byte(tt.line + "\n")); err != nil {
				t.Fatal(err)
			}
			texts := got.texts()
			if len(texts) != 1 || !got.lines[0].Truncated {
				t.Fatalf("lines = %q, want one truncated line", texts)
			}
			head, _, ok := strings.Cut(texts[0], "… [truncated ")
			if !ok || head != tt.wantHead {
				t.Errorf("line = %q, want it to start %q then the marker", texts[0], tt.wantHead)
			}
		})
	}
}
