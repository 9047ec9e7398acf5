package launch

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry/internal/clock"
)

// DefaultMaxLineBytes is the longest line, in bytes of output, that a
// [LineWriter] keeps whole when none is configured. Longer lines are
// truncated: a log line is for reading, and one runaway line must not fill a
// log batch.
const DefaultMaxLineBytes = 16 << 10

// ErrWriterClosed is returned by [LineWriter.Write] after Close.
var ErrWriterClosed = errors.New("launch: line writer closed")

// Stream says where a log line came from. The zero value is not a valid
// stream.
type Stream int

// The streams of a run's log.
const (
	// StreamStdout is the run's standard output.
	StreamStdout Stream = iota + 1
	// StreamStderr is the run's standard error.
	StreamStderr
	// StreamSystem carries the agent's own messages about the run, such as
	// "sent SIGTERM".
	StreamSystem
)

// String returns the stream's name: "stdout", "stderr" or "system".
func (s Stream) String() string {
	switch s {
	case StreamStdout:
		return "stdout"
	case StreamStderr:
		return "stderr"
	case StreamSystem:
		return "system"
	}
	return fmt.Sprintf("Stream(%d)", int(s))
}

// LogLine is one line of a run's log, without its line terminator.
type LogLine struct {
	// Stream says where the line came from.
	Stream Stream
	// Text is the line, always valid UTF-8 (invalid bytes are replaced by
	// U+FFFD). A truncated line ends with a marker saying how many bytes were
	// cut.
	Text string
	// Time is when the agent read the end of the line.
	Time time.Time
	// Truncated reports whether the line was longer than the limit and cut.
	Truncated bool
}

// LineWriter is an io.WriteCloser that cuts what is written to it into lines
// and hands each to a [LogSink]. A line ends at "\n"; a "\r\n" ending is
// removed whole. A line longer than the limit is cut at a UTF-8 boundary and
// ends with a marker such as "… [truncated 12345 bytes]"; it is delivered,
// never dropped, once its end is seen. Close delivers a last line that has no
// terminator. It is safe for concurrent use; lines are delivered in order.
type LineWriter struct {
	stream   Stream
	sink     LogSink
	clk      clock.Clock
	maxBytes int

	mu      sync.Mutex
	line    []byte // the start of the current line, at most maxBytes long
	dropped int    // bytes of the current line beyond line
	lastCR  bool   // the last dropped byte was '\r'
	closed  bool
}

// NewLineWriter returns a [LineWriter] that delivers lines of stream to sink,
// timestamped by clk (nil means the real clock). maxLineBytes is the longest
// line kept whole, in bytes; zero or less means [DefaultMaxLineBytes].
func NewLineWriter(stream Stream, sink LogSink, maxLineBytes int, clk clock.Clock) *LineWriter {
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &LineWriter{stream: stream, sink: sink, clk: clk, maxBytes: maxLineBytes}
}

// Write delivers every line that p completes and keeps the rest for the next
// call. It returns len(p) and no error, unless the writer is closed.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrWriterClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			break
		}
		w.add(p[:i])
		w.deliver(true)
		p = p[i+1:]
	}
	return n, nil
}

// Close delivers the pending partial line, if any, and makes later writes
// fail. Closing twice does nothing.
func (w *LineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(w.line) > 0 || w.dropped > 0 {
		w.deliver(false)
	}
	return nil
}

// add appends b to the current line, keeping at most maxBytes of it.
func (w *LineWriter) add(b []byte) {
	if room := w.maxBytes - len(w.line); room > 0 {
		take := min(room, len(b))
		w.line = append(w.line, b[:take]...)
		b = b[take:]
	}
	if len(b) > 0 {
		w.dropped += len(b)
		w.lastCR = b[len(b)-1] == '\r'
	}
}

// deliver sends the current line to the sink and starts a new one. newline
// reports whether the line ended with "\n", so that a preceding '\r' belongs
// to the terminator.
func (w *LineWriter) deliver(newline bool) {
	line, dropped := w.line, w.dropped
	if newline {
		switch {
		case dropped > 0 && w.lastCR:
			dropped--
		case dropped == 0 && len(line) > 0 && line[len(line)-1] == '\r':
			line = line[:len(line)-1]
		}
	}

	var text string
	if dropped > 0 {
		// Cut before a rune split by the limit, so the kept part stays valid.
		cut := runeBoundary(line)
		dropped += len(line) - cut
		text = fmt.Sprintf("%s… [truncated %d bytes]", strings.ToValidUTF8(string(line[:cut]), "\uFFFD"), dropped)
	} else {
		text = strings.ToValidUTF8(string(line), "\uFFFD")
	}
	w.sink.Line(LogLine{Stream: w.stream, Text: text, Time: w.clk.Now(), Truncated: dropped > 0})

	w.line = w.line[:0]
	w.dropped = 0
	w.lastCR = false
}

// runeBoundary returns the length of b without a trailing incomplete UTF-8
// sequence. Invalid bytes are left alone; they are replaced later.
func runeBoundary(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}
