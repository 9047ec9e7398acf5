package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// defaultLogPageSize is the page size of ListRunLogs when the request
// leaves it 0, and the most lines FollowRunLogs puts in one message, which
// keeps a message well below Connect's size limits for lines of any length.
const defaultLogPageSize = 1000

// logPos is a position in a run's log: lines are ordered by attempt, then
// seq, which is also the order of the primary key of run_log_lines.
type logPos struct {
	Attempt int32
	Seq     int64
}

// logStart is before every line, logEnd after every line.
var (
	logStart = logPos{}
	logEnd   = logPos{Attempt: math.MaxInt32, Seq: math.MaxInt64}
)

// less reports whether p comes before q in log order.
func (p logPos) less(q logPos) bool {
	return p.Attempt < q.Attempt || p.Attempt == q.Attempt && p.Seq < q.Seq
}

// logRange is the part of a log strictly between two positions.
type logRange struct {
	after, before logPos
}

// attemptRange returns the range that holds exactly the lines of attempt,
// or every line for 0. The queries select an attempt by this range, so the
// index scan starts at the requested position within the attempt.
func attemptRange(attempt int32) logRange {
	if attempt == 0 {
		return logRange{after: logStart, before: logEnd}
	}
	// (a, s) > (attempt-1, MaxInt64) holds exactly for a >= attempt, and
	// (a, s) < (attempt+1, MinInt64) exactly for a <= attempt.
	r := logRange{
		after:  logPos{Attempt: attempt - 1, Seq: math.MaxInt64},
		before: logPos{Attempt: attempt + 1, Seq: math.MinInt64},
	}
	if attempt == math.MaxInt32 {
		r.before = logEnd
	}
	return r
}

// logCursor is what a log page token holds: a position and the direction
// it reads in. A forward token holds the last line sent, and reading goes
// on after it; a backward token holds the first line sent, and reading goes
// on before it.
type logCursor struct {
	Attempt int32 `json:"a"`
	Seq     int64 `json:"s"`
	Back    bool  `json:"b,omitempty"`
}

// logTokenContext starts what a log token's checksum covers.
const logTokenContext = "ferry.v1.RunService/logs\x00"

// logTokenChecksum returns the checksum of a log token's JSON b for the log
// of run runID, so a token of one run is refused for another.
func logTokenChecksum(runID uuid.UUID, b []byte) []byte {
	h := sha256.New()
	h.Write([]byte(logTokenContext))
	h.Write(runID[:])
	h.Write(b)
	return h.Sum(nil)[:runTokenChecksumLen]
}

// encodeLogCursor returns the page token of c in the log of run runID: its
// JSON and a checksum, base64url-encoded like a ListRuns token.
func encodeLogCursor(runID uuid.UUID, c logCursor) string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encode log page token: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(append(b, logTokenChecksum(runID, b)...))
}

// decodeLogCursor reverses [encodeLogCursor]; a token that was changed, cut
// or returned for another run fails.
func decodeLogCursor(runID uuid.UUID, token string) (logCursor, error) {
	var c logCursor
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return c, fmt.Errorf("decode: %w", err)
	}
	if len(raw) <= runTokenChecksumLen {
		return c, errors.New("too short")
	}
	b, got := raw[:len(raw)-runTokenChecksumLen], raw[len(raw)-runTokenChecksumLen:]
	if !bytes.Equal(got, logTokenChecksum(runID, b)) {
		return c, errors.New("checksum mismatch")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decode: %w", err)
	}
	return c, nil
}

// logLineToProto converts a stored line.
func logLineToProto(l db.RunLogLine) *ferryv1.LogLine {
	return &ferryv1.LogLine{
		Attempt: l.Attempt, Seq: l.Seq, Stream: ferryv1.LogStream(l.Stream), Text: l.Text,
		Time: timestamppb.New(l.Time), Truncated: l.Truncated,
	}
}

// logPage returns up to limit lines of attempt (0 for all) after a
// position, in order, and the position of the last one (after itself when
// there is none).
func (s *RunServer) logPage(
	ctx context.Context,
	runID uuid.UUID,
	attempt int32,
	after logPos,
	limit int32,
) ([]*ferryv1.LogLine, logPos, error) {
	r := attemptRange(attempt)
	if r.after.less(after) {
		r.after = after
	}
	rows, err := s.Store.Q.LogLinesList(ctx, db.LogLinesListParams{
		RunID: runID, AfterAttempt: r.after.Attempt, AfterSeq: r.after.Seq,
		BeforeAttempt: r.before.Attempt, BeforeSeq: r.before.Seq, PageLimit: limit,
	})
	if err != nil {
		return nil, after, fmt.Errorf("list log lines after %d/%d: %w", after.Attempt, after.Seq, err)
	}
	lines := make([]*ferryv1.LogLine, 0, len(rows))
	for _, l := range rows {
		lines = append(lines, logLineToProto(l))
		after = logPos{Attempt: l.Attempt, Seq: l.Seq}
	}
	return lines, after, nil
}

// logPageBefore returns the last limit lines of attempt (0 for all) before
// a position, in order, and reports whether earlier lines exist.
func (s *RunServer) logPageBefore(
	ctx context.Context,
	runID uuid.UUID,
	attempt int32,
	before logPos,
	limit int32,
) ([]*ferryv1.LogLine, bool, error) {
	r := attemptRange(attempt)
	if before.less(r.before) {
		r.before = before
	}
	// One line more than asked tells whether earlier lines exist, so the
	// last backward page carries no token that would read an empty page.
	rows, err := s.Store.Q.LogLinesListBefore(ctx, db.LogLinesListBeforeParams{
		RunID: runID, AfterAttempt: r.after.Attempt, AfterSeq: r.after.Seq,
		BeforeAttempt: r.before.Attempt, BeforeSeq: r.before.Seq, PageLimit: limit + 1,
	})
	if err != nil {
		return nil, false, fmt.Errorf("list log lines before %d/%d: %w", before.Attempt, before.Seq, err)
	}
	more := len(rows) > int(limit)
	if more {
		rows = rows[:limit]
	}
	lines := make([]*ferryv1.LogLine, 0, len(rows))
	for _, l := range slices.Backward(rows) {
		lines = append(lines, logLineToProto(l))
	}
	return lines, more, nil
}

// earlierToken returns the backward token that reads the lines before the
// first of lines.
func earlierToken(runID uuid.UUID, lines []*ferryv1.LogLine) string {
	first := lines[0]
	return encodeLogCursor(runID, logCursor{Attempt: first.GetAttempt(), Seq: first.GetSeq(), Back: true})
}

// direction names a listing direction in messages.
func direction(back bool) string {
	if back {
		return "backward"
	}
	return "forward"
}

// ListRunLogs returns a page of log lines, read forward from the beginning
// or backward from the end. Both directions are range scans of the primary
// key of run_log_lines (see queries/run_log_lines.sql).
func (s *RunServer) ListRunLogs(ctx context.Context, req *connect.Request[ferryv1.ListRunLogsRequest]) (*connect.Response[ferryv1.ListRunLogsResponse], error) {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	limit := m.GetPageSize()
	if limit == 0 {
		limit = defaultLogPageSize
	}
	var cur *logCursor
	if t := m.GetPageToken(); t != "" {
		c, err := decodeLogCursor(r.ID, t)
		if err != nil {
			return nil, errInvalid("page_token", "not a token returned for the log of run %s", r.ID)
		}
		if c.Back != m.GetBackward() {
			return nil, errInvalid("page_token", "was returned for a %s listing; call with backward=%t",
				direction(c.Back), c.Back)
		}
		cur = &c
	}

	resp := &ferryv1.ListRunLogsResponse{}
	if m.GetBackward() {
		before := logEnd
		if cur != nil {
			before = logPos{Attempt: cur.Attempt, Seq: cur.Seq}
		}
		lines, more, err := s.logPageBefore(ctx, r.ID, m.GetAttempt(), before, limit)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list logs", err)
		}
		resp.Lines = lines
		if more {
			resp.NextPageToken = earlierToken(r.ID, lines)
		}
		return connect.NewResponse(resp), nil
	}
	after := logStart
	if cur != nil {
		after = logPos{Attempt: cur.Attempt, Seq: cur.Seq}
	}
	lines, next, err := s.logPage(ctx, r.ID, m.GetAttempt(), after, limit)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list logs", err)
	}
	resp.Lines = lines
	if int32(len(lines)) == limit {
		resp.NextPageToken = encodeLogCursor(r.ID, logCursor{Attempt: next.Attempt, Seq: next.Seq})
	}
	return connect.NewResponse(resp), nil
}

// FollowRunLogs streams log lines as they arrive until the run is final
// and every stored line was sent. With tail_lines and no page_token it
// starts with the last lines stored, read backward through the primary key,
// and goes on forward from the last of them.
func (s *RunServer) FollowRunLogs(ctx context.Context, req *connect.Request[ferryv1.FollowRunLogsRequest], stream *connect.ServerStream[ferryv1.FollowRunLogsResponse]) error {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return err
	}
	after := logStart
	if t := req.Msg.GetPageToken(); t != "" {
		c, err := decodeLogCursor(r.ID, t)
		if err != nil {
			return errInvalid("page_token", "not a token returned for the log of run %s", r.ID)
		}
		if c.Back {
			return errInvalid("page_token", "was returned for a backward listing; FollowRunLogs resumes only from its own page_token")
		}
		after = logPos{Attempt: c.Attempt, Seq: c.Seq}
	}
	// Subscribe before the first read, so a line stored after it wakes the
	// loop below.
	arrived, unsubscribe := s.subscribeRun(transition.ChannelLogs, r.ID)
	defer unsubscribe()
	changed, unsubscribeRun := s.subscribeRun(transition.ChannelRunChanged, r.ID)
	defer unsubscribeRun()

	send := func(lines []*ferryv1.LogLine, earlier string) error {
		last := lines[len(lines)-1]
		after = logPos{Attempt: last.GetAttempt(), Seq: last.GetSeq()}
		return stream.Send(&ferryv1.FollowRunLogsResponse{
			Lines:            lines,
			PageToken:        encodeLogCursor(r.ID, logCursor{Attempt: after.Attempt, Seq: after.Seq}),
			EarlierPageToken: earlier,
		})
	}
	if n := req.Msg.GetTailLines(); n > 0 && req.Msg.GetPageToken() == "" {
		lines, more, err := s.logPageBefore(ctx, r.ID, 0, logEnd, n)
		if err != nil {
			return errInternal(ctx, s.Log, "follow logs", err)
		}
		var earlier string
		if more {
			earlier = earlierToken(r.ID, lines)
		}
		for chunk := range slices.Chunk(lines, defaultLogPageSize) {
			if err := send(chunk, earlier); err != nil {
				return err
			}
			earlier = ""
		}
	}
	for {
		// Read the state before the lines: lines stored before the run
		// ended are then certain to be read below.
		_, cur, err := s.getRun(ctx, req.Msg.GetId())
		if err != nil {
			return err
		}
		for {
			lines, _, err := s.logPage(ctx, r.ID, 0, after, defaultLogPageSize)
			if err != nil {
				return errInternal(ctx, s.Log, "follow logs", err)
			}
			if len(lines) == 0 {
				break
			}
			if err := send(lines, ""); err != nil {
				return err
			}
		}
		if run.IsTerminal(run.State(cur.State)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-arrived:
		case <-changed:
		case <-time.After(watchFallback):
		}
	}
}
