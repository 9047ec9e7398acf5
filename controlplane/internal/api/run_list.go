package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// defaultRunPageSize is the ListRuns page size when the request sets none:
// a screenful of the runs page.
const defaultRunPageSize = 50

// runFilter is a validated ListRuns filter.
type runFilter struct {
	states       []string // distinct, in RunState order; empty keeps all
	deployment   string
	deploymentID uuid.NullUUID
	tags         []string // distinct, sorted
	late         bool
	after        *time.Time
	before       *time.Time
}

// runFilterOf validates the filters of m and resolves its deployment.
func (s *RunServer) runFilterOf(ctx context.Context, p auth.Principal, m *ferryv1.ListRunsRequest) (runFilter, error) {
	f := runFilter{deployment: m.GetDeployment(), late: m.GetLate()}
	seen := make(map[ferryv1.RunState]bool)
	for i, st := range m.GetStates() {
		name, ok := stateFromProto(st)
		if !ok {
			return f, errInvalid(fmt.Sprintf("states[%d]", i), "unknown state %v", st)
		}
		if !seen[st] {
			seen[st] = true
			f.states = append(f.states, name)
		}
	}
	// Every state at once is no state filter, and reads the plainest index.
	if len(f.states) == len(ferryv1.RunState_name)-1 {
		f.states = nil
	}
	slices.SortFunc(f.states, func(a, b string) int { return int(stateToProto(a) - stateToProto(b)) })
	for i, tag := range m.GetTags() {
		if tag == "" {
			return f, errInvalid(fmt.Sprintf("tags[%d]", i), "is empty")
		}
		f.tags = append(f.tags, tag)
	}
	slices.Sort(f.tags)
	f.tags = slices.Compact(f.tags)
	if t := m.GetCreatedAfter(); t != nil {
		v, err := filterTimeArg("created_after", t)
		if err != nil {
			return f, err
		}
		f.after = &v
	}
	if t := m.GetCreatedBefore(); t != nil {
		v, err := filterTimeArg("created_before", t)
		if err != nil {
			return f, err
		}
		f.before = &v
	}
	if f.after != nil && f.before != nil && !f.after.Before(*f.before) {
		return f, errInvalid("created_before", "must be later than created_after")
	}
	if f.deployment != "" {
		d, err := s.Store.Q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: p.WorkspaceID, Name: f.deployment})
		if store.IsNotFound(err) {
			return f, errNotFound("deployment", f.deployment)
		}
		if err != nil {
			return f, errInternal(ctx, s.Log, "list runs", err)
		}
		f.deploymentID = uuid.NullUUID{UUID: d.ID, Valid: true}
	}
	return f, nil
}

// digest identifies the filter in a page token, so that a token is not
// used with other filters, where its position would skip or repeat runs.
// The deployment counts by name, as the caller gave it.
func (f runFilter) digest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "states=%s\x00deployment=%s\x00tags=%s\x00late=%t\x00",
		strings.Join(f.states, ","), f.deployment, strings.Join(f.tags, "\x01"), f.late)
	for _, t := range []*time.Time{f.after, f.before} {
		if t != nil {
			b.WriteString(t.UTC().Format(time.RFC3339Nano))
		}
		b.WriteByte(0)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// runCursor is what a ListRuns page token holds: the last run of the page
// and the digest of the filters it was listed with.
type runCursor struct {
	T  time.Time `json:"t"`
	ID uuid.UUID `json:"id"`
	F  string    `json:"f"`
}

// runTokenContext starts what a ListRuns token's checksum covers.
const runTokenContext = "ferry.v1.RunService/ListRuns\x00"

// runTokenChecksumLen is how many bytes of SHA-256 a token carries.
const runTokenChecksumLen = 8

// runTokenChecksum returns the checksum of a ListRuns token's JSON b in
// workspace ws, so that a token of one workspace is refused in another.
func runTokenChecksum(ws uuid.UUID, b []byte) []byte {
	h := sha256.New()
	h.Write([]byte(runTokenContext))
	h.Write(ws[:])
	h.Write(b)
	return h.Sum(nil)[:runTokenChecksumLen]
}

// encodeRunCursor returns the page token of c in workspace ws: its JSON
// and a checksum of it and ws, base64url-encoded. The checksum catches a
// token that was cut, edited, mixed up or carried to another workspace; it
// is not a signature, and need not be: a token only picks a position among
// runs the caller may list anyway.
func encodeRunCursor(ws uuid.UUID, c runCursor) string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encode run page token: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(append(b, runTokenChecksum(ws, b)...))
}

// decodeRunCursor reverses [encodeRunCursor] in workspace ws; any change to
// the token, or another workspace, makes it fail.
func decodeRunCursor(ws uuid.UUID, token string) (runCursor, error) {
	var c runCursor
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return c, fmt.Errorf("decode: %w", err)
	}
	if len(raw) <= runTokenChecksumLen {
		return c, fmt.Errorf("too short")
	}
	b, got := raw[:len(raw)-runTokenChecksumLen], raw[len(raw)-runTokenChecksumLen:]
	if !bytes.Equal(got, runTokenChecksum(ws, b)) {
		return c, fmt.Errorf("checksum mismatch")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decode: %w", err)
	}
	if c.T.IsZero() || c.ID == uuid.Nil || c.F == "" {
		return c, fmt.Errorf("incomplete")
	}
	return c, nil
}

// ListRuns lists runs newest first, filtered, a page at a time. Each
// combination of filters reads an index (see queries/migrations/
// 0009_run_listing.sql), and the page token is a keyset cursor, so pages
// stay stable while runs are created.
func (s *RunServer) ListRuns(ctx context.Context, req *connect.Request[ferryv1.ListRunsRequest]) (*connect.Response[ferryv1.ListRunsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	f, err := s.runFilterOf(ctx, p, m)
	if err != nil {
		return nil, err
	}
	limit := int32(defaultRunPageSize)
	if m.GetPageSize() > 0 {
		limit = m.GetPageSize()
	}
	digest := f.digest()
	var cursorTime *time.Time
	var cursorID uuid.NullUUID
	if m.GetPageToken() != "" {
		c, err := decodeRunCursor(p.WorkspaceID, m.GetPageToken())
		if err != nil {
			return nil, errInvalid("page_token", "not a token returned by ListRuns in this workspace")
		}
		if c.F != digest {
			return nil, errInvalid("page_token", "was returned for other filters; list again without a page token")
		}
		cursorTime, cursorID = &c.T, uuid.NullUUID{UUID: c.ID, Valid: true}
	}

	lateBefore := s.Clock.Now().Add(-s.lateAfter())
	var rows []db.Run
	err = s.Store.ReadPlanned(ctx, func(q db.Querier) error {
		var err error
		// Several states read best as one ordered scan per state, merged,
		// unless a tag filter finds fewer runs (see RunList).
		if len(f.states) > 1 && len(f.tags) == 0 {
			rows, err = q.RunListStates(ctx, db.RunListStatesParams{
				States: f.states, WorkspaceID: p.WorkspaceID, DeploymentID: f.deploymentID,
				Tags: nonNil(f.tags), LateOnly: f.late, LateBefore: lateBefore,
				CreatedAfter: f.after, CreatedBefore: f.before,
				CursorTime: cursorTime, CursorID: cursorID, PageLimit: limit,
			})
			return err
		}
		arg := db.RunListParams{
			WorkspaceID: p.WorkspaceID, States: []string{}, DeploymentID: f.deploymentID,
			Tags: nonNil(f.tags), LateOnly: f.late, LateBefore: lateBefore,
			CreatedAfter: f.after, CreatedBefore: f.before,
			CursorTime: cursorTime, CursorID: cursorID, PageLimit: limit,
		}
		switch len(f.states) {
		case 0:
		case 1:
			arg.State = &f.states[0]
		default:
			arg.States = f.states
		}
		rows, err = q.RunList(ctx, arg)
		return err
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list runs", err)
	}

	resp := &ferryv1.ListRunsResponse{Runs: make([]*ferryv1.Run, 0, len(rows))}
	names := s.names()
	for _, r := range rows {
		pr, err := names.run(ctx, r)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list runs", err)
		}
		resp.Runs = append(resp.Runs, pr)
	}
	if int32(len(rows)) == limit {
		last := rows[len(rows)-1]
		resp.NextPageToken = encodeRunCursor(p.WorkspaceID, runCursor{T: last.CreateTime, ID: last.ID, F: digest})
	}
	return connect.NewResponse(resp), nil
}

// nonNil returns s, or an empty slice for nil: a nil slice reaches
// PostgreSQL as NULL, which the queries do not read as "no filter".
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
