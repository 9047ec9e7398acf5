// Package transition applies run events in the database: it locks the runs,
// asks the pure state machine in package run what happens, and writes the
// new rows and their history in the caller's transaction.
package transition

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Notification channels. Payloads are comma-separated ids.
const (
	// ChannelRunChanged carries the ids of runs whose row changed.
	ChannelRunChanged = "ferry_run_changed"
	// ChannelDispatch carries the ids of pools that have runs to dispatch.
	ChannelDispatch = "ferry_dispatch"
	// ChannelLogs carries the ids of runs that have new log lines.
	ChannelLogs = "ferry_run_logs"
	// ChannelCancel carries the ids of agents that have runs to stop.
	ChannelCancel = "ferry_cancel"
)

// Request is one event for one run.
type Request struct {
	RunID uuid.UUID
	Event run.Event
	// InfrastructureID is recorded with a Started report.
	InfrastructureID string
}

// Outcome is what became of one request.
type Outcome struct {
	Request Request
	// Result is the state machine's answer; zero when Err is set.
	Result run.Result
	// Row is the run after the event (before it, for errors and duplicates).
	Row db.Run
	// Err is nil, store.ErrNotFound-like (see [ErrNoRun]) or wraps a run.Err* sentinel.
	Err error
}

// ErrNoRun reports an event for a run that does not exist.
var ErrNoRun = fmt.Errorf("run not found")

// Applier applies events. It is safe for concurrent use.
type Applier struct {
	// LeaseDuration is how long a claim's lease lasts before a heartbeat must renew it.
	LeaseDuration time.Duration

	mu  sync.Mutex
	rnd *rand.Rand
}

// NewApplier returns an Applier granting leases of leaseDuration.
func NewApplier(leaseDuration time.Duration) *Applier {
	return &Applier{LeaseDuration: leaseDuration, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (a *Applier) jitter(n int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rnd.Int64N(n)
}

// Apply applies reqs in q's transaction at time now. Runs are locked in id
// order, so concurrent calls never deadlock. Several requests for one run
// apply in order. When filter is not nil, a run it rejects counts as not
// found (this scopes a call to a workspace or an agent's pool).
func (a *Applier) Apply(ctx context.Context, q db.Querier, now time.Time, reqs []Request, filter func(db.Run) bool) ([]Outcome, error) {
	ids := make([]uuid.UUID, 0, len(reqs))
	for _, r := range reqs {
		ids = append(ids, r.RunID)
	}
	// Byte order is the order of the text form and of PostgreSQL's uuid
	// comparison, without formatting two strings per comparison.
	slices.SortFunc(ids, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
	ids = slices.Compact(ids)
	rows, err := q.RunLockMany(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("lock runs: %w", err)
	}
	current := make(map[uuid.UUID]db.Run, len(rows))
	for _, r := range rows {
		if filter == nil || filter(r) {
			current[r.ID] = r
		}
	}

	var (
		outcomes = make([]Outcome, 0, len(reqs))
		history  = db.RunStateChangeInsertManyParams{Now: now}
		changed  = make(map[uuid.UUID]bool)
		pools    = make(map[uuid.UUID]bool)
		agents   = make(map[uuid.UUID]bool)
	)
	for _, req := range reqs {
		row, ok := current[req.RunID]
		if !ok {
			outcomes = append(outcomes, Outcome{Request: req, Err: ErrNoRun})
			continue
		}
		snap, err := snapshot(ctx, q, row, req.Event)
		if err != nil {
			return nil, err
		}
		res, err := run.Apply(snap, req.Event, now, a.jitter)
		if err != nil || res.Duplicate {
			outcomes = append(outcomes, Outcome{Request: req, Result: res, Row: row, Err: err})
			continue
		}
		next := a.nextRow(row, req, res, now)
		current[row.ID] = next
		changed[row.ID] = true
		for _, t := range res.Transitions {
			history.Ords = append(history.Ords, int32(len(history.Ords)))
			history.RunIds = append(history.RunIds, row.ID)
			history.WorkspaceIds = append(history.WorkspaceIds, row.WorkspaceID)
			history.Attempts = append(history.Attempts, t.Attempt)
			history.FromStates = append(history.FromStates, string(t.From))
			history.ToStates = append(history.ToStates, string(t.To))
			history.ToNames = append(history.ToNames, t.ToName)
			history.Messages = append(history.Messages, t.Message)
			history.Actors = append(history.Actors, t.Actor)
			history.LeaseTokens = append(history.LeaseTokens, t.LeaseToken)
		}
		// A run waiting for an agent, or a slot freed by an ended run, is
		// work for the dispatcher.
		if (next.State == string(run.StateScheduled) && next.LeaseToken == 0) || run.IsTerminal(run.State(next.State)) {
			pools[next.PoolID] = true
		}
		if next.State == string(run.StateCancelling) && row.State != next.State && next.AgentID.Valid {
			agents[next.AgentID.UUID] = true
		}
		outcomes = append(outcomes, Outcome{Request: req, Result: res, Row: next})
	}

	if len(changed) > 0 {
		updates := db.RunUpdateManyParams{Now: now}
		for id := range changed {
			addUpdate(&updates, current[id])
		}
		if err := q.RunUpdateMany(ctx, updates); err != nil {
			return nil, fmt.Errorf("update runs: %w", err)
		}
	}
	if len(history.RunIds) > 0 {
		if err := q.RunStateChangeInsertMany(ctx, history); err != nil {
			return nil, fmt.Errorf("record state history: %w", err)
		}
	}
	if err := Notify(ctx, q, ChannelRunChanged, keys(changed)); err != nil {
		return nil, err
	}
	if err := Notify(ctx, q, ChannelDispatch, keys(pools)); err != nil {
		return nil, err
	}
	if err := Notify(ctx, q, ChannelCancel, keys(agents)); err != nil {
		return nil, err
	}
	return outcomes, nil
}

// Notify sends one notification on channel listing ids, in chunks that stay
// below PostgreSQL's payload limit. It is delivered when the transaction commits.
func Notify(ctx context.Context, q db.Querier, channel string, ids []uuid.UUID) error {
	const perMessage = 200 // 200 × 37 bytes stays under the 8000-byte payload limit
	for len(ids) > 0 {
		n := min(len(ids), perMessage)
		parts := make([]string, n)
		for i, id := range ids[:n] {
			parts[i] = id.String()
		}
		if err := q.Notify(ctx, db.NotifyParams{Channel: channel, Payload: strings.Join(parts, ",")}); err != nil {
			return fmt.Errorf("notify %s: %w", channel, err)
		}
		ids = ids[n:]
	}
	return nil
}

func keys(m map[uuid.UUID]bool) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// snapshot builds the state machine's view of row. How the newest leased
// attempt ended is read from the history only when ev is an agent report
// under another token than the row's, the one case that needs it.
func snapshot(ctx context.Context, q db.Querier, row db.Run, ev run.Event) (run.Snapshot, error) {
	s := run.Snapshot{
		State:       run.State(row.State),
		StateName:   row.StateName,
		Attempt:     row.Attempt,
		MaxAttempts: row.MaxAttempts,
		LeaseToken:  row.LeaseToken,
		RetryDelay:  time.Duration(row.RetryDelayMs) * time.Millisecond,
		RetryOn:     run.RetryOn(row.RetryOn),
	}
	if row.AgentID.Valid {
		s.AgentID = row.AgentID.UUID.String()
	}
	if tok, ok := reportToken(ev); ok && tok != row.LeaseToken {
		last, err := q.RunStateChangeLastEnded(ctx, row.ID)
		switch {
		case store.IsNotFound(err):
		case err != nil:
			return run.Snapshot{}, fmt.Errorf("read run history: %w", err)
		default:
			s.Ended = run.Ended{Token: last.LeaseToken, State: run.State(last.ToState), Name: last.ToName}
		}
	}
	return s, nil
}

func reportToken(ev run.Event) (int64, bool) {
	switch e := ev.(type) {
	case run.Claim:
		return e.Token, true
	case run.Started:
		return e.Token, true
	case run.Completed:
		return e.Token, true
	case run.Failed:
		return e.Token, true
	case run.Crashed:
		return e.Token, true
	case run.Cancelled:
		return e.Token, true
	}
	return 0, false
}

// nextRow applies the state machine's result to the stored row.
func (a *Applier) nextRow(row db.Run, req Request, res run.Result, now time.Time) db.Run {
	n := res.Next
	next := row
	next.State = string(n.State)
	next.StateName = n.StateName
	next.Attempt = n.Attempt
	next.MaxAttempts = n.MaxAttempts
	next.LeaseToken = n.LeaseToken
	next.UpdateTime = now
	if len(res.Transitions) > 0 {
		next.StateMessage = res.Transitions[len(res.Transitions)-1].Message
	}
	if res.ClearLease || n.LeaseToken == 0 {
		next.AgentID = uuid.NullUUID{}
		next.LeaseExpireTime = nil
		next.LeaseToken = 0
	}
	if _, ok := req.Event.(run.Claim); ok {
		exp := now.Add(a.LeaseDuration)
		next.LeaseExpireTime = &exp
	}
	if req.InfrastructureID != "" {
		next.InfrastructureID = req.InfrastructureID
	}
	if res.ExitCode != nil {
		next.ExitCode = res.ExitCode
	}
	for _, t := range res.Transitions {
		switch {
		case t.To == run.StateRunning:
			next.StartTime = &now
		case run.IsTerminal(t.To):
			next.EndTime = &now
		case t.To == run.StateScheduled && t.Attempt != row.Attempt:
			// A new attempt starts from scratch.
			next.StartTime, next.EndTime, next.ExitCode = nil, nil, nil
			next.InfrastructureID = ""
			next.ExpectedStartTime = now
		}
	}
	if !res.NotBefore.IsZero() {
		next.ExpectedStartTime = res.NotBefore
	}
	return next
}

// addUpdate appends r to a bulk update; NULLs become the sentinels that
// RunUpdateMany turns back into NULL.
func addUpdate(u *db.RunUpdateManyParams, r db.Run) {
	u.Ids = append(u.Ids, r.ID)
	u.States = append(u.States, r.State)
	u.StateNames = append(u.StateNames, r.StateName)
	u.StateMessages = append(u.StateMessages, r.StateMessage)
	u.Attempts = append(u.Attempts, r.Attempt)
	u.MaxAttempts = append(u.MaxAttempts, r.MaxAttempts)
	u.AgentIds = append(u.AgentIds, r.AgentID.UUID) // zero when not Valid
	u.LeaseTokens = append(u.LeaseTokens, r.LeaseToken)
	u.LeaseExpireTimes = append(u.LeaseExpireTimes, orZero(r.LeaseExpireTime))
	u.ExpectedStartTimes = append(u.ExpectedStartTimes, r.ExpectedStartTime)
	u.StartTimes = append(u.StartTimes, orZero(r.StartTime))
	u.EndTimes = append(u.EndTimes, orZero(r.EndTime))
	u.HasExitCodes = append(u.HasExitCodes, r.ExitCode != nil)
	var code int32
	if r.ExitCode != nil {
		code = *r.ExitCode
	}
	u.ExitCodes = append(u.ExitCodes, code)
	u.InfrastructureIds = append(u.InfrastructureIds, r.InfrastructureID)
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
