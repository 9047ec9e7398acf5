package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// logFollow is an open FollowRunLogs stream whose messages a goroutine
// passes on.
type logFollow struct {
	msgs chan *ferryv1.FollowRunLogsResponse
	// done receives the stream's error (nil for a clean end) once.
	done chan error
}

// followLogs opens FollowRunLogs with req; the stream is closed at cleanup.
func followLogs(t *testing.T, c clients, req *ferryv1.FollowRunLogsRequest) *logFollow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	t.Cleanup(cancel)
	f := &logFollow{msgs: make(chan *ferryv1.FollowRunLogsResponse, 1000), done: make(chan error, 1)}
	// The call returns once response headers arrive, which the server
	// sends with its first message: open the stream in the goroutine, so
	// the test may store the lines that message will carry.
	go func() {
		stream, err := c.runs.FollowRunLogs(ctx, connect.NewRequest(req))
		if err != nil {
			f.done <- err
			return
		}
		for stream.Receive() {
			f.msgs <- stream.Msg()
		}
		f.done <- stream.Err()
		stream.Close()
	}()
	return f
}

// lines waits for messages until they hold n lines and returns the
// messages.
func (f *logFollow) lines(t *testing.T, n int) []*ferryv1.FollowRunLogsResponse {
	t.Helper()
	var got []*ferryv1.FollowRunLogsResponse
	count := 0
	for count < n {
		select {
		case m := <-f.msgs:
			got = append(got, m)
			count += len(m.GetLines())
		case err := <-f.done:
			t.Fatalf("follow ended with %v after %d of %d lines", err, count, n)
		case <-time.After(waitTimeout):
			t.Fatalf("follow sent %d of %d lines", count, n)
		}
	}
	if count != n {
		t.Fatalf("follow sent %d lines, want %d", count, n)
	}
	return got
}

// rest waits for the clean end of the stream and returns the lines sent
// until then.
func (f *logFollow) rest(t *testing.T) []*ferryv1.LogLine {
	t.Helper()
	var got []*ferryv1.LogLine
	for {
		select {
		case m := <-f.msgs:
			got = append(got, m.GetLines()...)
		case err := <-f.done:
			if err != nil {
				t.Fatalf("follow ended with %v, want a clean end", err)
			}
			for len(f.msgs) > 0 {
				got = append(got, (<-f.msgs).GetLines()...)
			}
			return got
		case <-time.After(waitTimeout):
			t.Fatal("follow did not end")
		}
	}
}

// keys names lines by attempt and seq ("2:14") and checks each text.
func keys(t *testing.T, lines []*ferryv1.LogLine) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		k := fmt.Sprintf("%d:%d", l.GetAttempt(), l.GetSeq())
		if want := "line " + k; l.GetText() != want {
			t.Errorf("line %s has text %q, want %q", k, l.GetText(), want)
		}
		out = append(out, k)
	}
	return out
}

// lineTexts returns "line A:S" for seq first to last of attempt.
func lineTexts(attempt int32, first, last int64) []string {
	var out []string
	for s := first; s <= last; s++ {
		out = append(out, fmt.Sprintf("line %d:%d", attempt, s))
	}
	return out
}

// lineKeys returns the keys of seq first to last of attempt.
func lineKeys(attempt int32, first, last int64) []string {
	var out []string
	for s := first; s <= last; s++ {
		out = append(out, fmt.Sprintf("%d:%d", attempt, s))
	}
	return out
}

// storeLines sends the lines first to last of the order's attempt in
// batches within the protocol's limit.
func (a *scriptedAgent) storeLines(t *testing.T, o *ferryv1.WorkOrder, first, last int64) {
	t.Helper()
	const batch = 5000
	for from := first; from <= last; from += batch {
		a.sendLogs(t, lease(o), from, lineTexts(o.GetAttempt(), from, min(from+batch-1, last))...)
	}
}

// listBackward pages ListRunLogs backward from token (the end for "")
// with pages of size and returns every line in log order.
func listBackward(t *testing.T, c clients, id, token string, attempt, size int32) []*ferryv1.LogLine {
	t.Helper()
	var pages [][]*ferryv1.LogLine
	seen := map[string]bool{}
	for {
		resp, err := c.runs.ListRunLogs(callCtx(t), connect.NewRequest(&ferryv1.ListRunLogsRequest{
			Id: id, Backward: true, PageSize: size, PageToken: token, Attempt: attempt,
		}))
		if err != nil {
			t.Fatalf("list backward: %v", err)
		}
		if len(resp.Msg.GetLines()) == 0 {
			t.Fatalf("backward page %d is empty", len(pages)+1)
		}
		pages = append(pages, resp.Msg.GetLines())
		token = resp.Msg.GetNextPageToken()
		if token == "" {
			break
		}
		if seen[token] {
			t.Fatalf("token %q repeated", token)
		}
		seen[token] = true
	}
	var out []*ferryv1.LogLine
	for i := len(pages) - 1; i >= 0; i-- {
		out = append(out, pages[i]...)
	}
	return out
}

func TestFollowRunLogsTail(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "chatty")
	a := p.connectAgent(t, tok, "agent-1", 1)

	tests := []struct {
		name   string
		stored int64
		tail   int32
	}{
		{"no lines yet", 0, 5},
		{"fewer lines than the tail", 3, 5},
		{"as many lines as the tail", 5, 5},
		{"more lines than the tail", 12, 5},
		{"a tail over several messages", 2500, 2200},
		{"no tail", 4, 0},
	}
	// The subtests share the agent, which takes one run at a time.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.createRun(t, "chatty", "")
			o := a.orderFor(t, r.GetId())
			a.mustClaim(t, o)
			a.mustReport(t, lease(o), reportStarted, nil)
			a.storeLines(t, o, 1, tt.stored)

			f := followLogs(t, p.clients, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), TailLines: tt.tail})
			first := tt.stored - int64(tt.tail) + 1
			if tt.tail == 0 || first < 1 {
				first = 1
			}
			msgs := f.lines(t, int(tt.stored-first+1))
			var tail []*ferryv1.LogLine
			for i, m := range msgs {
				tail = append(tail, m.GetLines()...)
				if len(m.GetLines()) > 1000 {
					t.Errorf("message %d holds %d lines, more than 1000", i, len(m.GetLines()))
				}
				if i > 0 && m.GetEarlierPageToken() != "" {
					t.Errorf("message %d has an earlier_page_token; only the first may", i)
				}
			}
			if diff := cmp.Diff(lineKeys(1, first, tt.stored), keys(t, tail)); diff != "" {
				t.Errorf("tail (-want +got):\n%s", diff)
			}
			earlier := ""
			if len(msgs) > 0 {
				earlier = msgs[0].GetEarlierPageToken()
			}
			if wantEarlier := first > 1; (earlier != "") != wantEarlier {
				t.Errorf("earlier_page_token %q, want one: %t", earlier, wantEarlier)
			}

			// Lines stored after the tail arrive once, after it.
			a.sendLogs(t, lease(o), tt.stored+1, lineTexts(1, tt.stored+1, tt.stored+2)...)
			a.sendLogs(t, lease(o), tt.stored+3, lineTexts(1, tt.stored+3, tt.stored+3)...)
			a.mustReport(t, lease(o), reportCompleted, exit(0))
			live := f.rest(t)
			if diff := cmp.Diff(lineKeys(1, tt.stored+1, tt.stored+3), keys(t, live)); diff != "" {
				t.Errorf("lines after the tail (-want +got):\n%s", diff)
			}

			// Paging backward from the tail joins it without gap or repeat.
			var before []*ferryv1.LogLine
			if earlier != "" {
				before = listBackward(t, p.clients, r.GetId(), earlier, 0, 7)
			}
			all := append(append(before, tail...), live...)
			if diff := cmp.Diff(lineKeys(1, 1, tt.stored+3), keys(t, all)); diff != "" {
				t.Errorf("earlier pages, tail and live lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunLogsBackwardAcrossAttempts(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "flaky", withRetries(1, time.Second))
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "flaky", "")

	o := a.orderFor(t, r.GetId())
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.storeLines(t, o, 1, 4)
	a.mustReport(t, lease(o), reportFailed, exit(1))
	p.clock.Set(p.getRun(t, r.GetId()).GetExpectedStartTime().AsTime())
	o = a.orderFor(t, r.GetId())
	if o.GetAttempt() != 2 {
		t.Fatalf("order for attempt %d, want 2", o.GetAttempt())
	}
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.storeLines(t, o, 1, 3)

	f := followLogs(t, p.clients, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), TailLines: 5})
	msgs := f.lines(t, 5)
	if diff := cmp.Diff([]string{"1:3", "1:4", "2:1", "2:2", "2:3"}, keys(t, msgs[0].GetLines())); diff != "" {
		t.Errorf("tail across attempts (-want +got):\n%s", diff)
	}
	a.storeLines(t, o, 4, 4)
	a.mustReport(t, lease(o), reportCompleted, exit(0))
	if diff := cmp.Diff([]string{"2:4"}, keys(t, f.rest(t))); diff != "" {
		t.Errorf("live lines (-want +got):\n%s", diff)
	}
	before := listBackward(t, p.clients, r.GetId(), msgs[0].GetEarlierPageToken(), 0, 1)
	if diff := cmp.Diff([]string{"1:1", "1:2"}, keys(t, before)); diff != "" {
		t.Errorf("lines before the tail (-want +got):\n%s", diff)
	}

	all := append(lineKeys(1, 1, 4), lineKeys(2, 1, 4)...)
	tests := []struct {
		name    string
		attempt int32
		size    int32
		want    []string
	}{
		{"every attempt in pages of 3", 0, 3, all},
		{"every attempt in one page", 0, 100, all},
		{"the first attempt", 1, 3, lineKeys(1, 1, 4)},
		{"the last attempt", 2, 2, lineKeys(2, 1, 4)},
		{"an attempt without lines", 3, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.want == nil {
				resp, err := p.runs.ListRunLogs(callCtx(t), connect.NewRequest(&ferryv1.ListRunLogsRequest{
					Id: r.GetId(), Backward: true, Attempt: tt.attempt,
				}))
				if err != nil || len(resp.Msg.GetLines()) != 0 || resp.Msg.GetNextPageToken() != "" {
					t.Fatalf("ListRunLogs = %v, %v; want no lines and no token", resp, err)
				}
				return
			}
			got := listBackward(t, p.clients, r.GetId(), "", tt.attempt, tt.size)
			if diff := cmp.Diff(tt.want, keys(t, got)); diff != "" {
				t.Errorf("backward pages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunLogsRejects(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "chatty")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "chatty", "")
	o := a.orderFor(t, r.GetId())
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.storeLines(t, o, 1, 6)
	other := p.createRun(t, "chatty", "")
	foreign := p.foreignWorkspace(t)

	list := func(c clients, req *ferryv1.ListRunLogsRequest) (*ferryv1.ListRunLogsResponse, error) {
		resp, err := c.runs.ListRunLogs(callCtx(t), connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	mustToken := func(req *ferryv1.ListRunLogsRequest) string {
		resp, err := list(p.clients, req)
		if err != nil || resp.GetNextPageToken() == "" {
			t.Fatalf("ListRunLogs(%v) = %v, %v; want a next page token", req, resp, err)
		}
		return resp.GetNextPageToken()
	}
	forward := mustToken(&ferryv1.ListRunLogsRequest{Id: r.GetId(), PageSize: 2})
	backward := mustToken(&ferryv1.ListRunLogsRequest{Id: r.GetId(), PageSize: 2, Backward: true})
	// A token edited in its middle, where the position is.
	edited := []byte(backward)
	mid := len(edited) / 2
	if edited[mid] == 'A' {
		edited[mid] = 'B'
	} else {
		edited[mid] = 'A'
	}

	follow := func(c clients, req *ferryv1.FollowRunLogsRequest) func() error {
		return func() error {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			stream, err := c.runs.FollowRunLogs(ctx, connect.NewRequest(req))
			if err != nil {
				return err
			}
			defer stream.Close()
			if stream.Receive() {
				return fmt.Errorf("follow sent %d lines, want an error", len(stream.Msg().GetLines()))
			}
			return stream.Err()
		}
	}
	listing := func(c clients, req *ferryv1.ListRunLogsRequest) func() error {
		return func() error {
			resp, err := list(c, req)
			if err == nil {
				return fmt.Errorf("listed %d lines, want an error", len(resp.GetLines()))
			}
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		code connect.Code
		// msg is a part of the message that names what was wrong.
		msg string
	}{
		{"negative tail", follow(p.clients, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), TailLines: -1}), connect.CodeInvalidArgument, "tail_lines"},
		{"tail too long", follow(p.clients, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), TailLines: 10001}), connect.CodeInvalidArgument, "tail_lines"},
		{"follow from a backward token", follow(p.clients, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), PageToken: backward}), connect.CodeInvalidArgument, "page_token"},
		{"follow with another run's token", follow(p.clients, &ferryv1.FollowRunLogsRequest{Id: other.GetId(), PageToken: forward}), connect.CodeInvalidArgument, "page_token"},
		{"follow a foreign run", follow(foreign, &ferryv1.FollowRunLogsRequest{Id: r.GetId(), TailLines: 5}), connect.CodeNotFound, r.GetId()},
		{"backward page too big", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true, PageSize: 10001}), connect.CodeInvalidArgument, "page_size"},
		{"backward page size negative", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true, PageSize: -1}), connect.CodeInvalidArgument, "page_size"},
		{"forged token", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true, PageToken: "eyJhIjoxLCJzIjo1fQ"}), connect.CodeInvalidArgument, "page_token"},
		{"edited token", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true, PageToken: string(edited)}), connect.CodeInvalidArgument, "page_token"},
		{"forward token read backward", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true, PageToken: forward}), connect.CodeInvalidArgument, "page_token"},
		{"backward token read forward", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: r.GetId(), PageToken: backward}), connect.CodeInvalidArgument, "page_token"},
		{"another run's token", listing(p.clients, &ferryv1.ListRunLogsRequest{Id: other.GetId(), Backward: true, PageToken: backward}), connect.CodeInvalidArgument, "page_token"},
		{"list a foreign run backward", listing(foreign, &ferryv1.ListRunLogsRequest{Id: r.GetId(), Backward: true}), connect.CodeNotFound, r.GetId()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			code, cerr := errCode(err)
			if cerr != nil || code != tt.code {
				t.Fatalf("error %v, want code %v", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}
