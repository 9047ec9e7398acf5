// Package invariant checks, after a test, that what the control plane wrote
// to the database is consistent: every run's state history is a legal path
// through the state machine, no run ever had two live executions at once,
// each run's current row agrees with its history, and every attempt's log
// lines are numbered 1..N without a gap.
//
// The checker reads every workspace at once and judges from the append-only
// history, not from the current rows alone, so a violation that was later
// papered over is still found. It is meant for integration, end-to-end and
// chaos tests; nothing in a serving path may call it.
//
// Concurrency limits are judged from the history too: replaying every
// entry in id order, no limit may ever have more claimed runs (PENDING,
// RUNNING or CANCELLING) than slots.
//
// Known limitation: the limits are those stored when the check runs, so a
// test that changes a limit midway cannot be judged; and the one-run-per-
// (schedule, nominal time) rule is not checked.
package invariant

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Rule names an invariant.
type Rule string

// The rules [Check] and [CheckLogs] enforce.
const (
	// RuleNoHistory: a run has no state history at all.
	RuleNoHistory Rule = "no-history"
	// RuleFirstEntry: a history does not start with NULL → SCHEDULED for
	// attempt 1.
	RuleFirstEntry Rule = "first-entry"
	// RuleChain: an entry's from_state is not the previous entry's to_state.
	RuleChain Rule = "chain"
	// RuleIllegalEdge: an entry is not an edge of the state graph, or its
	// state name does not belong to its state.
	RuleIllegalEdge Rule = "illegal-edge"
	// RuleTerminalExit: a terminal state was left other than by a move to
	// SCHEDULED for the next attempt.
	RuleTerminalExit Rule = "terminal-exit"
	// RuleAttempt: the attempt number went down, or changed other than by a
	// retry.
	RuleAttempt Rule = "attempt"
	// RuleSingleExecution: a run had two live executions at once: a change
	// under another lease token while a lease was live, or a new lease
	// before the previous one ended.
	RuleSingleExecution Rule = "single-execution"
	// RuleLease: an entry broke the lease rules: a claim without a token, a
	// token not greater than every earlier one, a move into a leased state
	// with no live lease, or a change under a lease that had already ended.
	RuleLease Rule = "lease"
	// RuleCurrentRow: the run's row disagrees with the end of its history.
	RuleCurrentRow Rule = "current-row"
	// RuleLogSequence: an attempt's log lines are not numbered 1..N.
	RuleLogSequence Rule = "log-sequence"
	// RuleLogOrphan: log lines belong to a run that does not exist or to an
	// attempt it never reached.
	RuleLogOrphan Rule = "log-orphan"
	// RuleLogContent: the stored output of an attempt is not the expected
	// lines, each once and in order.
	RuleLogContent Rule = "log-content"
	// RuleConcurrencyLimit: a claim made a concurrency limit hold more
	// claimed runs than its slots.
	RuleConcurrencyLimit Rule = "concurrency-limit"
)

// Violation is one broken invariant.
type Violation struct {
	Rule  Rule
	RunID uuid.UUID
	// HistoryID is the history entry at fault; 0 when none is.
	HistoryID int64
	// Detail says what was found, for people.
	Detail string
}

// String formats v on one line.
func (v Violation) String() string {
	if v.HistoryID != 0 {
		return fmt.Sprintf("%s: run %s, history entry %d: %s", v.Rule, v.RunID, v.HistoryID, v.Detail)
	}
	return fmt.Sprintf("%s: run %s: %s", v.Rule, v.RunID, v.Detail)
}

// ViolationError lists every violation one check found.
type ViolationError struct {
	Violations []Violation
}

// Error lists the violations, one per line.
func (e *ViolationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invariant violation(s):", len(e.Violations))
	for _, v := range e.Violations {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Rules returns the distinct rules broken, in the order first found.
func (e *ViolationError) Rules() []Rule {
	var out []Rule
	seen := make(map[Rule]bool)
	for _, v := range e.Violations {
		if !seen[v.Rule] {
			seen[v.Rule] = true
			out = append(out, v.Rule)
		}
	}
	return out
}

// Check reads every run, its whole state history and a summary of its log
// lines through q, and returns nil when every invariant holds, a
// *[ViolationError] listing each violation otherwise, or another error when
// the database could not be read. Run it when the system is quiet (after
// the test's processes stopped, or at least with no run changing), since it
// reads without a snapshot across queries.
func Check(ctx context.Context, q db.Querier) error {
	history, err := q.RunStateChangeListAll(ctx)
	if err != nil {
		return fmt.Errorf("read state history: %w", err)
	}
	runs, err := q.RunListAllStates(ctx)
	if err != nil {
		return fmt.Errorf("read runs: %w", err)
	}
	logs, err := q.LogLinesSummaryAll(ctx)
	if err != nil {
		return fmt.Errorf("read log summary: %w", err)
	}

	byRun := make(map[uuid.UUID][]db.RunStateChange)
	for _, h := range history {
		byRun[h.RunID] = append(byRun[h.RunID], h)
	}
	var c checker
	attempts := make(map[uuid.UUID]int32, len(runs))
	for _, r := range runs {
		attempts[r.ID] = r.Attempt
		entries := byRun[r.ID]
		if len(entries) == 0 {
			c.add(Violation{Rule: RuleNoHistory, RunID: r.ID, Detail: "the run has no state history"})
			continue
		}
		end := c.history(entries)
		c.currentRow(r, end)
	}
	for _, l := range logs {
		c.logSummary(l, attempts)
	}
	if err := c.limits(ctx, q, history); err != nil {
		return err
	}
	return c.err()
}

// CheckLogs checks the stored log lines of one attempt of a run: their
// sequence numbers are 1..N without a gap, and the text of the lines on
// stdout and stderr, in sequence order, is exactly want (lines the agent
// wrote itself, on the system stream, are not compared). It returns nil, a
// *[ViolationError], or an error when the database could not be read.
func CheckLogs(ctx context.Context, q db.Querier, runID uuid.UUID, attempt int32, want []string) error {
	lines, err := q.LogLinesListAll(ctx, runID)
	if err != nil {
		return fmt.Errorf("read log lines of run %s: %w", runID, err)
	}
	var (
		c      checker
		got    []string
		expect int64 = 1
	)
	for _, l := range lines {
		if l.Attempt != attempt {
			continue
		}
		if l.Seq != expect {
			c.add(Violation{Rule: RuleLogSequence, RunID: runID,
				Detail: fmt.Sprintf("attempt %d: line seq %d where %d was expected", attempt, l.Seq, expect)})
			expect = l.Seq
		}
		expect++
		if l.Stream != int16(systemStream) {
			got = append(got, l.Text)
		}
	}
	if d := diffLines(want, got); d != "" {
		c.add(Violation{Rule: RuleLogContent, RunID: runID, Detail: fmt.Sprintf("attempt %d: %s", attempt, d)})
	}
	return c.err()
}

// systemStream is ferry.v1.LogStream LOG_STREAM_SYSTEM as stored.
const systemStream = 3

// diffLines describes the first difference between want and got, or
// returns "" when they are equal.
func diffLines(want, got []string) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("output line %d is %q, want %q", i+1, got[i], want[i])
		}
	}
	switch {
	case len(got) > len(want):
		return fmt.Sprintf("%d output lines stored, want %d; first extra line %q", len(got), len(want), got[len(want)])
	case len(got) < len(want):
		return fmt.Sprintf("%d output lines stored, want %d; first missing line %q", len(got), len(want), want[len(got)])
	}
	return ""
}

// checker collects violations.
type checker struct {
	found []Violation
}

func (c *checker) add(v Violation) { c.found = append(c.found, v) }

func (c *checker) err() error {
	if len(c.found) == 0 {
		return nil
	}
	return &ViolationError{Violations: c.found}
}

// historyEnd is where a run's history leaves it.
type historyEnd struct {
	last db.RunStateChange
	// liveToken is the token of the lease still live at the end; 0 when none.
	liveToken int64
}

// isLeased reports whether a run in state s is held under a lease.
func isLeased(s run.State) bool {
	return s == run.StatePending || s == run.StateRunning || s == run.StateCancelling
}

// history checks one run's entries, oldest first, and returns where they end.
func (c *checker) history(entries []db.RunStateChange) historyEnd {
	first := entries[0]
	if first.FromState != nil || first.ToState != string(run.StateScheduled) || first.Attempt != 1 {
		c.add(Violation{Rule: RuleFirstEntry, RunID: first.RunID, HistoryID: first.ID,
			Detail: fmt.Sprintf("history starts %s → %s (attempt %d), want NULL → SCHEDULED (attempt 1)",
				fromLabel(first.FromState), first.ToState, first.Attempt)})
	}
	// live is the token of the live lease (0 when none); lastToken the
	// highest token a lease was ever taken under.
	live, lastToken := c.lease(first, 0, 0)
	prev := first
	for _, e := range entries[1:] {
		c.edge(prev, e)
		live, lastToken = c.lease(e, live, lastToken)
		prev = e
	}
	return historyEnd{last: prev, liveToken: live}
}

// edge checks that e follows prev: same chain, a legal edge, a valid name,
// and attempts that change only by a retry out of a terminal state.
func (c *checker) edge(prev, e db.RunStateChange) {
	id := e.RunID
	from := run.State(fromLabel(e.FromState))
	to := run.State(e.ToState)
	if e.FromState == nil || *e.FromState != prev.ToState {
		c.add(Violation{Rule: RuleChain, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("entry starts from %s but the previous entry ended in %s", fromLabel(e.FromState), prev.ToState)})
	}
	retry := run.IsTerminal(from) && run.Legal(from, to) && e.Attempt == prev.Attempt+1
	switch {
	case run.IsTerminal(from) && !retry:
		c.add(Violation{Rule: RuleTerminalExit, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("terminal %s left for %s at attempt %d after attempt %d; only a retry to SCHEDULED for the next attempt may leave it",
				from, to, e.Attempt, prev.Attempt)})
	case !run.Legal(from, to):
		c.add(Violation{Rule: RuleIllegalEdge, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("%s → %s is not an edge of the state graph", from, to)})
	case e.Attempt != prev.Attempt && !retry:
		c.add(Violation{Rule: RuleAttempt, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("attempt changed from %d to %d on %s → %s", prev.Attempt, e.Attempt, from, to)})
	}
	if !run.ValidName(to, e.ToName) {
		c.add(Violation{Rule: RuleIllegalEdge, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("state name %q does not belong to %s", e.ToName, to)})
	}
}

// lease follows the run's leases through entry e and returns the live
// token and the highest token after it.
func (c *checker) lease(e db.RunStateChange, live, lastToken int64) (int64, int64) {
	id := e.RunID
	to := run.State(e.ToState)
	if to == run.StatePending {
		switch {
		case live != 0:
			c.add(Violation{Rule: RuleSingleExecution, RunID: id, HistoryID: e.ID,
				Detail: fmt.Sprintf("claimed under token %d while the lease under token %d was live", e.LeaseToken, live)})
		case e.LeaseToken == 0:
			c.add(Violation{Rule: RuleLease, RunID: id, HistoryID: e.ID, Detail: "claimed without a lease token"})
		case e.LeaseToken <= lastToken:
			c.add(Violation{Rule: RuleLease, RunID: id, HistoryID: e.ID,
				Detail: fmt.Sprintf("claimed under token %d, not above the earlier token %d", e.LeaseToken, lastToken)})
		}
		return e.LeaseToken, max(lastToken, e.LeaseToken)
	}
	if live != 0 {
		if e.LeaseToken != live {
			c.add(Violation{Rule: RuleSingleExecution, RunID: id, HistoryID: e.ID,
				Detail: fmt.Sprintf("%s → %s under token %d while the lease under token %d was live",
					fromLabel(e.FromState), to, e.LeaseToken, live)})
		}
		if isLeased(to) {
			return live, lastToken
		}
		return 0, lastToken
	}
	switch {
	case isLeased(to):
		c.add(Violation{Rule: RuleLease, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("moved to %s with no live lease", to)})
	case e.LeaseToken != 0:
		c.add(Violation{Rule: RuleLease, RunID: id, HistoryID: e.ID,
			Detail: fmt.Sprintf("%s → %s under token %d after that lease ended", fromLabel(e.FromState), to, e.LeaseToken)})
	}
	return 0, lastToken
}

// currentRow checks that r agrees with the end of its history.
func (c *checker) currentRow(r db.RunListAllStatesRow, end historyEnd) {
	last := end.last
	if r.State != last.ToState || r.Attempt != last.Attempt {
		c.add(Violation{Rule: RuleCurrentRow, RunID: r.ID,
			Detail: fmt.Sprintf("row is %s at attempt %d, history ends in %s at attempt %d",
				r.State, r.Attempt, last.ToState, last.Attempt)})
	}
	state := run.State(r.State)
	switch {
	case isLeased(state) && r.LeaseToken != end.liveToken:
		c.add(Violation{Rule: RuleCurrentRow, RunID: r.ID,
			Detail: fmt.Sprintf("row is %s under token %d, history's live lease is token %d", r.State, r.LeaseToken, end.liveToken)})
	case run.IsTerminal(state) && r.LeaseToken != 0:
		c.add(Violation{Rule: RuleCurrentRow, RunID: r.ID,
			Detail: fmt.Sprintf("row is %s but still holds lease token %d", r.State, r.LeaseToken)})
	}
}

// logSummary checks one attempt's stored lines.
func (c *checker) logSummary(l db.LogLinesSummaryAllRow, attempts map[uuid.UUID]int32) {
	current, ok := attempts[l.RunID]
	switch {
	case !ok:
		c.add(Violation{Rule: RuleLogOrphan, RunID: l.RunID,
			Detail: fmt.Sprintf("%d log lines of attempt %d, but the run does not exist", l.Lines, l.Attempt)})
	case l.Attempt < 1 || l.Attempt > current:
		c.add(Violation{Rule: RuleLogOrphan, RunID: l.RunID,
			Detail: fmt.Sprintf("%d log lines of attempt %d, but the run is at attempt %d", l.Lines, l.Attempt, current)})
	}
	// Lines are unique by (run, attempt, seq), so seqs 1..N exactly when the
	// lowest is 1 and the highest equals the count.
	if l.MinSeq != 1 || l.MaxSeq != l.Lines {
		c.add(Violation{Rule: RuleLogSequence, RunID: l.RunID,
			Detail: fmt.Sprintf("attempt %d has %d lines numbered %d..%d, want 1..%d", l.Attempt, l.Lines, l.MinSeq, l.MaxSeq, l.Lines)})
	}
}

// fromLabel renders a nullable from_state.
func fromLabel(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}
