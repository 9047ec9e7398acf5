package logbuf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// memSender stores lines deduplicated by (run, attempt, seq), as the control
// plane does, and can be told to fail.
type memSender struct {
	mu       sync.Mutex
	calls    int
	maxLines int // most lines seen in one batch
	stored   map[string][]*ferryv1.AgentLogLine
	seen     map[string]map[int64]bool
	resent   int             // lines received again after being stored
	failures int             // next calls to fail without storing
	lostAcks int             // next calls to store, then fail
	reject   map[string]bool // run ids whose batches are refused
	gate     chan struct{}   // when set, calls wait for it to close
}

func newMemSender() *memSender {
	return &memSender{
		stored: map[string][]*ferryv1.AgentLogLine{},
		seen:   map[string]map[int64]bool{},
		reject: map[string]bool{},
	}
}

var errInjected = errors.New("injected failure")

func (m *memSender) SendLogs(ctx context.Context, batches []*ferryv1.LogBatch) (*ferryv1.SendLogsResponse, error) {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.failures > 0 {
		m.failures--
		return nil, errInjected
	}
	res := &ferryv1.SendLogsResponse{}
	for _, b := range batches {
		id := b.GetLease().GetRunId()
		if m.reject[id] {
			res.Rejected = append(res.Rejected, b.GetLease())
			continue
		}
		m.maxLines = max(m.maxLines, len(b.GetLines()))
		if m.seen[id] == nil {
			m.seen[id] = map[int64]bool{}
		}
		for _, l := range b.GetLines() {
			if m.seen[id][l.GetSeq()] {
				m.resent++
				continue
			}
			m.seen[id][l.GetSeq()] = true
			m.stored[id] = append(m.stored[id], l)
		}
	}
	if m.lostAcks > 0 {
		m.lostAcks--
		return nil, errInjected
	}
	return res, nil
}

func (m *memSender) lines(runID string) []*ferryv1.AgentLogLine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*ferryv1.AgentLogLine(nil), m.stored[runID]...)
}

func (m *memSender) with(f func(m *memSender)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func setup(t *testing.T, cfg Config) (*Shipper, *memSender) {
	t.Helper()
	sender := newMemSender()
	cfg.Sender = sender
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 5 * time.Millisecond
	}
	s := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s, sender
}

func lease(runID string) *ferryv1.RunLease {
	return &ferryv1.RunLease{RunId: runID, Attempt: 1, LeaseToken: 7}
}

func waitDone(t *testing.T, b *Buffer) {
	t.Helper()
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("buffer not done within 10s")
	}
}

// texts returns the texts of lines and checks that their seqs run 1, 2, 3...
func texts(t *testing.T, lines []*ferryv1.AgentLogLine) []string {
	t.Helper()
	out := make([]string, len(lines))
	for i, l := range lines {
		if l.GetSeq() != int64(i+1) {
			t.Fatalf("line %d has seq %d, want %d", i, l.GetSeq(), i+1)
		}
		out[i] = l.GetText()
	}
	return out
}

func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", i+1)
	}
	return out
}

func write(b *Buffer, lines []string) {
	for _, text := range lines {
		b.Line(launch.LogLine{Stream: launch.StreamStdout, Text: text, Time: time.Unix(1, 0)})
	}
}

func TestShipsEveryLineOnceInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lines    int
		failures int
		lostAcks int
	}{
		{name: "one line", lines: 1},
		{name: "several batches", lines: 2500},
		{name: "after failed calls", lines: 300, failures: 3},
		{name: "after lost acknowledgements", lines: 300, lostAcks: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, sender := setup(t, Config{MaxBatchLines: 100})
			sender.with(func(m *memSender) { m.failures, m.lostAcks = tt.failures, tt.lostAcks })
			b := s.Open(lease("r1"))
			want := numbered(tt.lines)
			write(b, want)
			b.Close()
			waitDone(t, b)

			if diff := cmp.Diff(want, texts(t, sender.lines("r1"))); diff != "" {
				t.Errorf("stored lines (-want +got):\n%s", diff)
			}
			sender.with(func(m *memSender) {
				if m.maxLines > 100 {
					t.Errorf("largest batch has %d lines, want at most 100", m.maxLines)
				}
				if tt.lostAcks > 0 && m.resent == 0 {
					t.Errorf("no line was resent after %d lost acknowledgements", tt.lostAcks)
				}
			})
		})
	}
}

func TestBatchesOfSeveralRunsShareACall(t *testing.T) {
	t.Parallel()
	s, sender := setup(t, Config{FlushInterval: time.Hour})
	gate := make(chan struct{})
	sender.with(func(m *memSender) { m.gate = gate })
	a, b := s.Open(lease("a")), s.Open(lease("b"))
	write(a, []string{"a1", "a2"})
	write(b, []string{"b1"})
	a.Close() // wakes the shipper, which sends both runs' lines in one call
	b.Close()
	close(gate)
	waitDone(t, a)
	waitDone(t, b)

	if diff := cmp.Diff([]string{"a1", "a2"}, texts(t, sender.lines("a"))); diff != "" {
		t.Errorf("run a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b1"}, texts(t, sender.lines("b"))); diff != "" {
		t.Errorf("run b (-want +got):\n%s", diff)
	}
	sender.with(func(m *memSender) {
		if m.calls != 1 {
			t.Errorf("SendLogs called %d times, want 1", m.calls)
		}
	})
}

func TestFullBufferDropsOldestLinesWithMarker(t *testing.T) {
	t.Parallel()
	s, sender := setup(t, Config{
		MaxBatchLines:    5,
		MaxBufferedLines: 10,
		BlockTimeout:     5 * time.Millisecond,
	})
	gate := make(chan struct{})
	sender.with(func(m *memSender) { m.gate = gate })
	b := s.Open(lease("r1"))

	// Wait until the first batch is in flight and held by the gate, so that
	// exactly the rest competes for room.
	write(b, numbered(5))
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		inflight := b.inflight != nil
		b.mu.Unlock()
		if inflight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first batch not sent within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	// 5 in flight leave room for 5 more; 20 more lines drop the oldest
	// unsent ones, and the marker takes one place.
	more := numbered(25)[5:]
	write(b, more)
	close(gate)
	b.Close()
	waitDone(t, b)

	got := texts(t, sender.lines("r1"))
	want := append(numbered(5), "16 log lines dropped: agent buffer full")
	want = append(want, more[16:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored lines (-want +got):\n%s", diff)
	}
	if n := s.DroppedLines(); n != 16 {
		t.Errorf("DroppedLines() = %d, want 16", n)
	}
	if l := sender.lines("r1")[5]; l.GetStream() != ferryv1.LogStream_LOG_STREAM_SYSTEM {
		t.Errorf("marker stream = %v, want SYSTEM", l.GetStream())
	}
}

func TestRefusedLeaseDiscardsLines(t *testing.T) {
	t.Parallel()
	s, sender := setup(t, Config{})
	sender.with(func(m *memSender) { m.reject["r1"] = true })
	b := s.Open(lease("r1"))
	write(b, numbered(3))
	waitDone(t, b) // done without Close: the lease is gone
	if !b.Discarded() {
		t.Error("Discarded() = false after the lease was refused")
	}
	if got := sender.lines("r1"); len(got) != 0 {
		t.Errorf("stored %d lines of a refused lease", len(got))
	}
	write(b, numbered(1)) // ignored, must not block or panic
}

func TestLongLineIsCut(t *testing.T) {
	t.Parallel()
	s, sender := setup(t, Config{})
	b := s.Open(lease("r1"))
	long := strings.Repeat("é", maxTextBytes) // two bytes each
	write(b, []string{long})
	b.Close()
	waitDone(t, b)
	got := sender.lines("r1")
	if len(got) != 1 {
		t.Fatalf("stored %d lines, want 1", len(got))
	}
	if n := len(got[0].GetText()); n != maxTextBytes || !got[0].GetTruncated() {
		t.Errorf("text of %d bytes, truncated=%v; want %d bytes, truncated", n, got[0].GetTruncated(), maxTextBytes)
	}
}
