// Package logbuf buffers the log lines of the agent's runs and ships them to
// the control plane.
//
// Each run attempt gets a [Buffer], which is the [launch.LogSink] its
// launcher writes to. A [Shipper] gathers the buffers' unsent lines into
// batches and sends the batches of every active run in one SendLogs call,
// at least every flush interval and at once when a batch is full or a run
// ends. Lines are numbered 1, 2, 3, ... per attempt when they first go into
// a batch; a batch keeps its numbers and content until the control plane
// acknowledges it and is resent as is after a failure, so the control
// plane's dedupe by (run, attempt, seq) stores every line exactly once.
//
// Memory is bounded per run. When a run writes faster than the control plane
// takes its lines, the writer is blocked briefly, then the oldest unsent
// lines are dropped and replaced by one system line saying how many were
// lost; lines are never dropped silently.
//
// This package never launches or stops runs.
package logbuf

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Defaults for [Config] fields left zero.
const (
	defaultFlushInterval    = 100 * time.Millisecond
	defaultMaxBatchLines    = 1000
	defaultMaxBatchBytes    = 256 << 10
	defaultMaxBufferedLines = 10_000
	defaultMaxBufferedBytes = 8 << 20
	// defaultBlockTimeout is how long a writer waits for room before lines
	// are dropped: long enough to ride out a slow call, short enough that a
	// run's output pipes do not stall for long.
	defaultBlockTimeout = 500 * time.Millisecond
	// defaultSendTimeout bounds one SendLogs call, retries included; a batch
	// that was not acknowledged in time is sent again on the next round.
	defaultSendTimeout = 30 * time.Second

	// maxTextBytes is the longest line text the protocol accepts.
	maxTextBytes = 64 << 10
	// lineOverhead approximates the bytes a line costs beyond its text, so
	// that floods of empty lines still count against the byte limits.
	lineOverhead = 64
	// maxRequestBatches is the most batches the protocol takes in one call.
	maxRequestBatches = 1000
	// maxRequestBytes keeps one SendLogs request to a size any proxy accepts.
	maxRequestBytes = 4 << 20
)

// Sender sends log batches to the control plane. [conn.Client] implements it.
type Sender interface {
	// SendLogs stores batches; the response lists those whose lease was refused.
	SendLogs(ctx context.Context, batches []*ferryv1.LogBatch) (*ferryv1.SendLogsResponse, error)
}

// Config configures a [Shipper].
type Config struct {
	// Sender sends the batches; required.
	Sender Sender
	// Logger receives shipping failures and dropped-line warnings; nil discards.
	Logger *slog.Logger
	// Clock times flushes and writer blocking; nil means the real clock.
	Clock clock.Clock
	// FlushInterval is the longest a line waits before it is sent; default 100ms.
	FlushInterval time.Duration
	// MaxBatchLines and MaxBatchBytes bound one run's batch; default 1,000
	// lines and 256 KiB.
	MaxBatchLines int
	MaxBatchBytes int
	// MaxBufferedLines and MaxBufferedBytes bound what one run holds, sent or
	// not; default 10,000 lines and 8 MiB.
	MaxBufferedLines int
	MaxBufferedBytes int
	// BlockTimeout is how long a writer waits for room before the oldest
	// unsent lines are dropped; default 500ms.
	BlockTimeout time.Duration
	// SendTimeout bounds one SendLogs call, retries included; default 30s.
	SendTimeout time.Duration
}

// Shipper ships the lines of every open [Buffer]. Start it with
// [Shipper.Run]; its methods are safe for concurrent use.
type Shipper struct {
	cfg  Config
	log  *slog.Logger
	clk  clock.Clock
	wake chan struct{}

	dropped atomic.Int64

	mu      sync.Mutex
	buffers []*Buffer
}

// New returns a shipper; cfg.Sender is required.
func New(cfg Config) *Shipper {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	setDefault(&cfg.FlushInterval, defaultFlushInterval)
	setDefault(&cfg.MaxBatchLines, defaultMaxBatchLines)
	setDefault(&cfg.MaxBatchBytes, defaultMaxBatchBytes)
	setDefault(&cfg.MaxBufferedLines, defaultMaxBufferedLines)
	setDefault(&cfg.MaxBufferedBytes, defaultMaxBufferedBytes)
	setDefault(&cfg.BlockTimeout, defaultBlockTimeout)
	setDefault(&cfg.SendTimeout, defaultSendTimeout)
	// A full batch must always fit in the buffer beside one more line.
	cfg.MaxBufferedLines = max(cfg.MaxBufferedLines, 2*cfg.MaxBatchLines)
	cfg.MaxBufferedBytes = max(cfg.MaxBufferedBytes, 2*cfg.MaxBatchBytes+maxTextBytes+lineOverhead)
	return &Shipper{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "logbuf"),
		clk:  cfg.Clock,
		wake: make(chan struct{}, 1),
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// DroppedLines returns how many lines have been dropped because a buffer was full.
func (s *Shipper) DroppedLines() int64 { return s.dropped.Load() }

// Open returns the buffer of one run attempt. The caller must end it with
// [Buffer.Close] or [Buffer.Discard].
func (s *Shipper) Open(lease *ferryv1.RunLease) *Buffer {
	return s.Resume(lease, 0)
}

// Resume returns the buffer of a run attempt whose lines up to lastSeq are
// already stored, as after the agent restarted and re-adopted the run: its
// lines are numbered from lastSeq+1.
func (s *Shipper) Resume(lease *ferryv1.RunLease, lastSeq int64) *Buffer {
	b := &Buffer{
		s:       s,
		lease:   lease,
		nextSeq: lastSeq + 1,
		room:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.mu.Lock()
	s.buffers = append(s.buffers, b)
	s.mu.Unlock()
	return b
}

// Run ships lines until ctx ends. Lines not yet acknowledged then stay
// unsent.
func (s *Shipper) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-s.clk.After(s.cfg.FlushInterval):
		}
		// Keep sending while full batches are waiting; after a failure, wait
		// for the next round.
		for s.flush(ctx) {
		}
	}
}

func (s *Shipper) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flush sends one request holding the current batch of every buffer. It
// reports whether it sent something and more is waiting.
func (s *Shipper) flush(ctx context.Context) bool {
	s.mu.Lock()
	live := s.buffers[:0]
	for _, b := range s.buffers {
		if !b.finished() {
			live = append(live, b)
		}
	}
	clear(s.buffers[len(live):])
	s.buffers = live
	buffers := append([]*Buffer(nil), live...)
	s.mu.Unlock()

	var (
		sent    []*Buffer
		batches []*ferryv1.LogBatch
		size    int
		full    bool // some batches wait for the next request
	)
	for _, b := range buffers {
		batch, bytes := b.batch()
		if batch == nil {
			continue
		}
		if len(batches) > 0 && (len(batches) == maxRequestBatches || size+bytes > maxRequestBytes) {
			full = true
			break
		}
		sent = append(sent, b)
		batches = append(batches, batch)
		size += bytes
	}
	if len(batches) == 0 {
		return false
	}

	sendCtx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	res, err := s.cfg.Sender.SendLogs(sendCtx, batches)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "log batches not sent", "batches", len(batches), "error", err)
		}
		return false
	}

	rejected := make(map[leaseKey]bool, len(res.GetRejected()))
	for _, l := range res.GetRejected() {
		rejected[keyOf(l)] = true
	}
	more := full
	for _, b := range sent {
		if rejected[keyOf(b.lease)] {
			s.log.WarnContext(ctx, "control plane refused the run's logs",
				"run_id", b.lease.GetRunId(), "attempt", b.lease.GetAttempt())
			b.Discard()
			continue
		}
		if b.acknowledge() {
			more = true
		}
	}
	return more
}

type leaseKey struct {
	runID   string
	attempt int32
	token   int64
}

func keyOf(l *ferryv1.RunLease) leaseKey {
	return leaseKey{runID: l.GetRunId(), attempt: l.GetAttempt(), token: l.GetLeaseToken()}
}

// Buffer holds the lines of one run attempt until the control plane has
// acknowledged them. It implements [launch.LogSink]; it is safe for
// concurrent use.
type Buffer struct {
	s     *Shipper
	lease *ferryv1.RunLease

	mu            sync.Mutex
	pending       []entry // not yet in a batch
	pendingBytes  int
	inflight      *ferryv1.LogBatch // sent or being sent, until acknowledged
	inflightBytes int
	nextSeq       int64
	room          chan struct{} // closed and replaced when lines leave the buffer
	closed        bool
	discarded     bool
	done          chan struct{}
}

// entry is one unsent line, or, when dropped > 0, the marker standing for
// lines dropped at that place.
type entry struct {
	line    launch.LogLine
	dropped int
}

func (e entry) size() int { return len(e.line.Text) + lineOverhead }

// Line buffers l. When the buffer is full it waits up to the block timeout
// for room, then drops the oldest unsent lines. Lines after Close or Discard
// are ignored.
func (b *Buffer) Line(l launch.LogLine) {
	if len(l.Text) > maxTextBytes {
		l.Text = truncateUTF8(l.Text, maxTextBytes)
		l.Truncated = true
	}
	e := entry{line: l}
	cfg := &b.s.cfg

	b.mu.Lock()
	defer b.mu.Unlock()
	var deadline <-chan time.Time
	expired := false
	for !b.closed && !b.discarded && !b.fits(e) {
		// Once lines are being dropped, drop at once until the marker is
		// sent: waiting on every line would throttle the run to a crawl.
		if expired || b.dropping() {
			b.dropOldest(e)
			break
		}
		if deadline == nil {
			deadline = b.s.clk.After(cfg.BlockTimeout)
		}
		room := b.room
		b.mu.Unlock()
		b.s.wakeUp()
		select {
		case <-room:
		case <-deadline:
			expired = true
		}
		b.mu.Lock()
	}
	if b.closed || b.discarded {
		return
	}
	b.pending = append(b.pending, e)
	b.pendingBytes += e.size()
	if len(b.pending) >= cfg.MaxBatchLines || b.pendingBytes >= cfg.MaxBatchBytes {
		b.s.wakeUp()
	}
}

// dropping reports whether lines were dropped since the last batch was formed.
func (b *Buffer) dropping() bool {
	return len(b.pending) > 0 && b.pending[0].dropped > 0
}

// fits reports whether e fits beside what the buffer holds.
func (b *Buffer) fits(e entry) bool {
	lines := len(b.pending) + 1
	bytes := b.pendingBytes + b.inflightBytes + e.size()
	if b.inflight != nil {
		lines += len(b.inflight.Lines)
	}
	return lines <= b.s.cfg.MaxBufferedLines && bytes <= b.s.cfg.MaxBufferedBytes
}

// dropOldest drops the oldest unsent lines until e fits, counting them in a
// marker at the front of the unsent lines. The marker takes one line's room.
func (b *Buffer) dropOldest(e entry) {
	if !b.dropping() {
		marker := entry{line: launch.LogLine{Stream: launch.StreamSystem, Time: e.line.Time}}
		b.pending = append([]entry{marker}, b.pending...)
		b.pendingBytes += marker.size()
	}
	n := 0
	for len(b.pending) > 1 && !b.fits(e) {
		b.pendingBytes -= b.pending[1].size()
		b.pending = append(b.pending[:1], b.pending[2:]...)
		n++
	}
	if b.pending[0].dropped == 0 {
		if n == 0 {
			// Nothing could be dropped; New's limits keep this unreachable.
			b.pendingBytes -= b.pending[0].size()
			b.pending = b.pending[1:]
			return
		}
		// Warn once per episode, not once per line of a flood.
		b.s.log.WarnContext(context.Background(), "log lines dropped: agent buffer full",
			"run_id", b.lease.GetRunId(), "attempt", b.lease.GetAttempt())
	}
	b.pending[0].dropped += n
	b.pending[0].line.Time = e.line.Time
	b.s.dropped.Add(int64(n))
}

// batch returns the batch to send for this buffer, forming it from the
// oldest unsent lines when none is in flight, or nil when there is nothing
// to send.
func (b *Buffer) batch() (*ferryv1.LogBatch, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.discarded {
		return nil, 0
	}
	if b.inflight != nil {
		return b.inflight, b.inflightBytes
	}
	if len(b.pending) == 0 {
		return nil, 0
	}
	cfg := &b.s.cfg
	n, bytes := 0, 0
	for n < len(b.pending) && n < cfg.MaxBatchLines {
		size := b.pending[n].size()
		if n > 0 && bytes+size > cfg.MaxBatchBytes {
			break
		}
		bytes += size
		n++
	}
	lines := make([]*ferryv1.AgentLogLine, n)
	for i, e := range b.pending[:n] {
		lines[i] = b.protoLine(e)
	}
	b.pending = append(b.pending[:0], b.pending[n:]...)
	b.pendingBytes -= bytes
	b.inflight = &ferryv1.LogBatch{Lease: b.lease, Lines: lines}
	b.inflightBytes = bytes
	return b.inflight, bytes
}

// protoLine numbers e and converts it for the wire.
func (b *Buffer) protoLine(e entry) *ferryv1.AgentLogLine {
	l := e.line
	if e.dropped > 0 {
		l.Text = fmt.Sprintf("%d log lines dropped: agent buffer full", e.dropped)
	}
	seq := b.nextSeq
	b.nextSeq++
	return &ferryv1.AgentLogLine{
		Seq:       seq,
		Stream:    protoStream(l.Stream),
		Text:      l.Text,
		Time:      timestamppb.New(l.Time),
		Truncated: l.Truncated,
	}
}

func protoStream(s launch.Stream) ferryv1.LogStream {
	switch s {
	case launch.StreamStdout:
		return ferryv1.LogStream_LOG_STREAM_STDOUT
	case launch.StreamStderr:
		return ferryv1.LogStream_LOG_STREAM_STDERR
	case launch.StreamSystem:
		return ferryv1.LogStream_LOG_STREAM_SYSTEM
	}
	return ferryv1.LogStream_LOG_STREAM_UNSPECIFIED
}

// acknowledge drops the batch in flight, which the control plane has stored.
// It reports whether unsent lines remain.
func (b *Buffer) acknowledge() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = nil
	b.inflightBytes = 0
	close(b.room)
	b.room = make(chan struct{})
	b.checkDone()
	return len(b.pending) > 0 && !b.discarded
}

// Close marks the end of the run's output and has its lines sent at once.
// [Buffer.Done] is closed once they are all acknowledged.
func (b *Buffer) Close() {
	b.mu.Lock()
	b.closed = true
	b.checkDone()
	b.mu.Unlock()
	b.s.wakeUp()
}

// Discard drops every line not yet acknowledged and closes [Buffer.Done]:
// the run's lease is no longer the agent's, so its lines would be refused.
func (b *Buffer) Discard() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.discarded {
		return
	}
	b.discarded = true
	b.pending, b.pendingBytes = nil, 0
	b.inflight, b.inflightBytes = nil, 0
	close(b.room)
	b.room = make(chan struct{})
	b.checkDone()
}

// Done is closed when every line of a closed buffer has been acknowledged,
// or when the buffer was discarded.
func (b *Buffer) Done() <-chan struct{} { return b.done }

// Discarded reports whether the buffer's lines were dropped by
// [Buffer.Discard] or refused by the control plane.
func (b *Buffer) Discarded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.discarded
}

func (b *Buffer) checkDone() {
	select {
	case <-b.done:
		return
	default:
	}
	if b.discarded || (b.closed && len(b.pending) == 0 && b.inflight == nil) {
		close(b.done)
	}
}

func (b *Buffer) finished() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
