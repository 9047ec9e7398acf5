package mask

import (
	"strings"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// truncationMarker starts the marker that [launch.LineWriter] appends to a
// line it cut short. TestSinkMasksValueCutByTruncation fails if the marker
// changes.
const truncationMarker = "… [truncated "

// Sink returns a [launch.LogSink] that masks each line's text and passes the
// line on to next. Lines are whole when they arrive (a [launch.LineWriter]
// assembled them), so a value written in several pieces is still caught.
// When a line was truncated, a start of a value left at the cut, at least
// the minimum length long, is masked too.
func (m *Masker) Sink(next launch.LogSink) launch.LogSink {
	return &sink{m: m, next: next}
}

type sink struct {
	m    *Masker
	next launch.LogSink
}

func (s *sink) Line(l launch.LogLine) {
	if l.Truncated {
		if i := strings.LastIndex(l.Text, truncationMarker); i >= 0 {
			l.Text = s.m.maskTail(l.Text[:i]) + s.m.MaskString(l.Text[i:])
			s.next.Line(l)
			return
		}
	}
	l.Text = s.m.MaskString(l.Text)
	s.next.Line(l)
}
