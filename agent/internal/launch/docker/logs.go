package docker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// logFollower delivers a container's log to its handle's sink. It reads the
// engine's log of the container from the start, and counts output lines
// (stdout and stderr together, in the engine's order) so that it can skip
// the lines an earlier reader delivered: those of an earlier life of the
// agent, or of a stream that broke.
type logFollower struct {
	h    *handle
	seen int64 // output lines delivered so far, by this follower or before it
}

// follow reads the log until the engine ends it, which it does once the
// container has stopped and its log has been read to the end, or until ctx
// ends. A broken stream is resumed a few times.
func (f *logFollower) follow(ctx context.Context) {
	for retry := 0; ; retry++ {
		err := f.read(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		if retry == waitRetries || cerrdefs.IsNotFound(err) {
			f.h.system(fmt.Sprintf("reading the log of container %s failed: %v; later output is not captured",
				shortID(f.h.id), err))
			return
		}
		f.h.l.logger.WarnContext(f.h.logCtx, "container log stream broke; resuming",
			append(f.h.logAttrs(), slog.String("error", err.Error()))...)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryDelay):
		}
	}
}

// read reads the log once from its start, delivering the lines after the
// first f.seen. A partial last line is delivered only when the stream ended
// cleanly; after an error it is read again by the next reading.
func (f *logFollower) read(ctx context.Context) error {
	rc, err := f.h.l.cli.ContainerLogs(ctx, f.h.id, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     true,
		Timestamps: true,
	})
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer rc.Close()

	counter := &skipSink{sink: f.h.sink, skip: f.seen}
	stdout := newEntryWriter(launch.StreamStdout, counter, f.h.l.maxLineBytes)
	stderr := newEntryWriter(launch.StreamStderr, counter, f.h.l.maxLineBytes)
	_, err = stdcopy.StdCopy(stdout, stderr, rc)
	if err == nil {
		stdout.lines.Close()
		stderr.lines.Close()
	}
	f.seen = max(f.seen, counter.lines())
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	return nil
}

// skipSink passes lines to sink except the first skip, and counts them all.
type skipSink struct {
	sink launch.LogSink
	skip int64

	mu  sync.Mutex
	pos int64
}

// Line counts l and passes it on unless it is among the first skip.
func (s *skipSink) Line(l launch.LogLine) {
	s.mu.Lock()
	s.pos++
	pass := s.pos > s.skip
	s.mu.Unlock()
	if pass {
		s.sink.Line(l)
	}
}

// lines returns how many lines s has been given.
func (s *skipSink) lines() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

// entryWriter is the writer of one stream of a container's log, as
// demultiplexed by stdcopy, which makes one Write per log entry. With
// timestamps on, an entry is the engine's RFC 3339 timestamp, a space and the
// text the container wrote: a whole line with its "\n", or a piece of a
// longer line without it. The text goes to a [launch.LineWriter] whose lines
// are stamped with the time of the entry that ends them.
type entryWriter struct {
	lines *launch.LineWriter
	clk   *entryClock
}

func newEntryWriter(stream launch.Stream, sink launch.LogSink, maxLineBytes int) *entryWriter {
	clk := &entryClock{}
	return &entryWriter{lines: launch.NewLineWriter(stream, sink, maxLineBytes, clk), clk: clk}
}

// Write takes one log entry. An entry without a readable timestamp is taken
// whole, with the time of the entry before it.
func (w *entryWriter) Write(p []byte) (int, error) {
	text := p
	if stamp, rest, ok := bytes.Cut(p, []byte{' '}); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil {
			w.clk.set(t)
			text = rest
		}
	}
	if _, err := w.lines.Write(text); err != nil {
		return 0, err
	}
	return len(p), nil
}

// entryClock is the clock of an [entryWriter]'s LineWriter: it tells the time
// of the log entry being written.
type entryClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *entryClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Now returns the time of the current log entry.
func (c *entryClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After is the real clock's: a LineWriter never sets timers.
func (c *entryClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
