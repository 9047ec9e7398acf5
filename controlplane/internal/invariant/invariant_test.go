package invariant

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// entry is one hand-made history entry; from "" is NULL.
type entry struct {
	from, to, name string
	attempt        int32
	token          int64
}

// row is a hand-made current run row.
type row struct {
	state, name string
	attempt     int32
	token       int64
}

// logLine is a hand-made stored log line.
type logLine struct {
	attempt int32
	seq     int64
	stream  int16
	text    string
}

// fixture is one database with a workspace, pool, queue and deployment
// ready to hold hand-made runs.
type fixture struct {
	pool       *pgxpool.Pool
	workspace  uuid.UUID
	poolID     uuid.UUID
	queueID    uuid.UUID
	deployment uuid.UUID
	now        time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		pool: dbtest.Pool(t), workspace: uuid.New(), poolID: uuid.New(), queueID: uuid.New(),
		deployment: uuid.New(), now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, create_time) VALUES ($1, 'ws', $2)`, []any{f.workspace, f.now}},
		{`INSERT INTO work_pools (id, workspace_id, name, type, create_time, update_time)
		  VALUES ($1, $2, 'local', 'process', $3, $3)`, []any{f.poolID, f.workspace, f.now}},
		{`INSERT INTO work_queues (id, workspace_id, pool_id, name, create_time, update_time)
		  VALUES ($1, $2, $3, 'default', $4, $4)`, []any{f.queueID, f.workspace, f.poolID, f.now}},
		{`INSERT INTO deployments (id, workspace_id, name, pool_id, queue_id, current_version, create_time, update_time)
		  VALUES ($1, $2, 'job', $3, $4, 1, $5, $5)`, []any{f.deployment, f.workspace, f.poolID, f.queueID, f.now}},
	}
	for _, s := range stmts {
		if _, err := f.pool.Exec(context.Background(), s.sql, s.args...); err != nil {
			t.Fatalf("prepare fixture: %v", err)
		}
	}
	return f
}

// addRun inserts a run in state r with history entries and log lines, and
// returns its id.
func (f *fixture) addRun(t *testing.T, r row, history []entry, lines []logLine) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	if _, err := f.pool.Exec(ctx, `
		INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id,
		                  state, state_name, attempt, max_attempts, parameters, lease_token,
		                  expected_start_time, create_time, update_time, created_by)
		VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, 10, '{}', $9, $10, $10, $10, 'test')`,
		id, f.workspace, f.deployment, f.poolID, f.queueID, r.state, r.name, r.attempt, r.token, f.now); err != nil {
		t.Fatalf("insert run: %v", err)
	}
	for i, e := range history {
		var from *string
		if e.from != "" {
			from = &e.from
		}
		if _, err := f.pool.Exec(ctx, `
			INSERT INTO run_state_changes (run_id, workspace_id, attempt, from_state, to_state, to_name,
			                               actor, lease_token, time)
			VALUES ($1, $2, $3, $4, $5, $6, 'test', $7, $8)`,
			id, f.workspace, e.attempt, from, e.to, e.name, e.token, f.now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("insert history: %v", err)
		}
	}
	for _, l := range lines {
		f.addLogLine(t, id, l)
	}
	return id
}

func (f *fixture) addLogLine(t *testing.T, id uuid.UUID, l logLine) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `
		INSERT INTO run_log_lines (run_id, attempt, seq, stream, text, time)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, l.attempt, l.seq, l.stream, l.text, f.now); err != nil {
		t.Fatalf("insert log line: %v", err)
	}
}

// rulesOf returns the rules err reports, failing the test on another error.
func rulesOf(t *testing.T, err error) []Rule {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ViolationError
	if !errors.As(err, &ve) {
		t.Fatalf("check: %v", err)
	}
	return ve.Rules()
}

// Histories reused by several cases.
var (
	created   = entry{"", "SCHEDULED", "Scheduled", 1, 0}
	claimed   = entry{"SCHEDULED", "PENDING", "Pending", 1, 5}
	started   = entry{"PENDING", "RUNNING", "Running", 1, 5}
	completed = entry{"RUNNING", "COMPLETED", "Completed", 1, 5}
)

func TestCheckHistories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		row     row
		history []entry
		lines   []logLine
		want    []Rule
	}{
		{
			name:    "completed run is legal",
			row:     row{"COMPLETED", "Completed", 1, 0},
			history: []entry{created, claimed, started, completed},
			lines:   []logLine{{1, 1, 1, "a"}, {1, 2, 2, "b"}, {1, 3, 3, "dropped"}},
		},
		{
			name: "retries, requeue, cancel and manual retry are legal",
			row:  row{"RUNNING", "Running", 4, 12},
			history: []entry{
				created, claimed,
				{"PENDING", "SCHEDULED", "Scheduled", 1, 5},
				{"SCHEDULED", "PENDING", "Pending", 1, 7},
				{"PENDING", "RUNNING", "Running", 1, 7},
				{"RUNNING", "FAILED", "Failed", 1, 7},
				{"FAILED", "SCHEDULED", "AwaitingRetry", 2, 0},
				{"SCHEDULED", "PENDING", "Pending", 2, 9},
				{"PENDING", "RUNNING", "Running", 2, 9},
				{"RUNNING", "CANCELLING", "Cancelling", 2, 9},
				{"CANCELLING", "CANCELLED", "Cancelled", 2, 9},
				{"CANCELLED", "SCHEDULED", "Scheduled", 3, 0},
				{"SCHEDULED", "CANCELLED", "Cancelled", 3, 0},
				{"CANCELLED", "SCHEDULED", "Scheduled", 4, 0},
				{"SCHEDULED", "PENDING", "Pending", 4, 12},
				{"PENDING", "RUNNING", "Running", 4, 12},
			},
			lines: []logLine{{1, 1, 1, "x"}, {2, 1, 1, "y"}, {2, 2, 1, "z"}, {4, 1, 2, "w"}},
		},
		{
			name: "no history",
			row:  row{"SCHEDULED", "Scheduled", 1, 0},
			want: []Rule{RuleNoHistory},
		},
		{
			name:    "history starts elsewhere than NULL to SCHEDULED",
			row:     row{"PENDING", "Pending", 1, 5},
			history: []entry{claimed},
			want:    []Rule{RuleFirstEntry},
		},
		{
			name:    "first entry of attempt 2",
			row:     row{"SCHEDULED", "Scheduled", 2, 0},
			history: []entry{{"", "SCHEDULED", "Scheduled", 2, 0}},
			want:    []Rule{RuleFirstEntry},
		},
		{
			name:    "broken chain",
			row:     row{"COMPLETED", "Completed", 1, 0},
			history: []entry{created, claimed, completed},
			want:    []Rule{RuleChain},
		},
		{
			name:    "edge outside the state graph",
			row:     row{"RUNNING", "Running", 1, 0},
			history: []entry{created, {"SCHEDULED", "RUNNING", "Running", 1, 0}},
			want:    []Rule{RuleIllegalEdge, RuleLease},
		},
		{
			name:    "state name of another state",
			row:     row{"PENDING", "Running", 1, 5},
			history: []entry{created, {"SCHEDULED", "PENDING", "Running", 1, 5}},
			want:    []Rule{RuleIllegalEdge},
		},
		{
			name:    "completed run rescheduled",
			row:     row{"SCHEDULED", "Scheduled", 2, 0},
			history: []entry{created, claimed, started, completed, {"COMPLETED", "SCHEDULED", "Scheduled", 2, 0}},
			want:    []Rule{RuleTerminalExit},
		},
		{
			name: "failed run rescheduled without a new attempt",
			row:  row{"SCHEDULED", "AwaitingRetry", 1, 0},
			history: []entry{created, claimed, started,
				{"RUNNING", "FAILED", "Failed", 1, 5}, {"FAILED", "SCHEDULED", "AwaitingRetry", 1, 0}},
			want: []Rule{RuleTerminalExit},
		},
		{
			name: "attempt skipped on retry",
			row:  row{"SCHEDULED", "AwaitingRetry", 3, 0},
			history: []entry{created, claimed, started,
				{"RUNNING", "CRASHED", "Crashed", 1, 5}, {"CRASHED", "SCHEDULED", "AwaitingRetry", 3, 0}},
			want: []Rule{RuleTerminalExit},
		},
		{
			name:    "attempt changes within a lease",
			row:     row{"RUNNING", "Running", 2, 5},
			history: []entry{created, claimed, {"PENDING", "RUNNING", "Running", 2, 5}},
			want:    []Rule{RuleAttempt},
		},
		{
			name:    "report under another token while a lease is live",
			row:     row{"RUNNING", "Running", 1, 5},
			history: []entry{created, claimed, {"PENDING", "RUNNING", "Running", 1, 6}},
			want:    []Rule{RuleSingleExecution},
		},
		{
			name: "cancel request under another token while a lease is live",
			row:  row{"CANCELLING", "Cancelling", 1, 5},
			history: []entry{created, claimed, started,
				{"RUNNING", "CANCELLING", "Cancelling", 1, 0}},
			want: []Rule{RuleSingleExecution},
		},
		{
			name:    "claim without a token",
			row:     row{"PENDING", "Pending", 1, 0},
			history: []entry{created, {"SCHEDULED", "PENDING", "Pending", 1, 0}},
			want:    []Rule{RuleLease},
		},
		{
			name: "token reused by a later claim",
			row:  row{"PENDING", "Pending", 1, 5},
			history: []entry{created, claimed,
				{"PENDING", "SCHEDULED", "Scheduled", 1, 5}, claimed},
			want: []Rule{RuleLease},
		},
		{
			name: "change under a lease that ended",
			row:  row{"CANCELLED", "Cancelled", 1, 0},
			history: []entry{created, claimed,
				{"PENDING", "SCHEDULED", "Scheduled", 1, 5}, {"SCHEDULED", "CANCELLED", "Cancelled", 1, 5}},
			want: []Rule{RuleLease},
		},
		{
			name:    "row in another state than the history",
			row:     row{"RUNNING", "Running", 1, 5},
			history: []entry{created, claimed, started, completed},
			want:    []Rule{RuleCurrentRow},
		},
		{
			name:    "row at another attempt than the history",
			row:     row{"COMPLETED", "Completed", 2, 0},
			history: []entry{created, claimed, started, completed},
			want:    []Rule{RuleCurrentRow},
		},
		{
			name:    "leased row under another token than the history",
			row:     row{"RUNNING", "Running", 1, 6},
			history: []entry{created, claimed, started},
			want:    []Rule{RuleCurrentRow},
		},
		{
			name:    "terminal row still holding a lease",
			row:     row{"COMPLETED", "Completed", 1, 5},
			history: []entry{created, claimed, started, completed},
			want:    []Rule{RuleCurrentRow},
		},
		{
			name:    "log lines with a gap",
			row:     row{"COMPLETED", "Completed", 1, 0},
			history: []entry{created, claimed, started, completed},
			lines:   []logLine{{1, 1, 1, "a"}, {1, 2, 1, "b"}, {1, 4, 1, "d"}},
			want:    []Rule{RuleLogSequence},
		},
		{
			name:    "log lines not starting at 1",
			row:     row{"COMPLETED", "Completed", 1, 0},
			history: []entry{created, claimed, started, completed},
			lines:   []logLine{{1, 2, 1, "b"}},
			want:    []Rule{RuleLogSequence},
		},
		{
			name:    "log lines of an attempt never reached",
			row:     row{"COMPLETED", "Completed", 1, 0},
			history: []entry{created, claimed, started, completed},
			lines:   []logLine{{1, 1, 1, "a"}, {2, 1, 1, "b"}},
			want:    []Rule{RuleLogOrphan},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.addRun(t, tt.row, tt.history, tt.lines)
			got := rulesOf(t, Check(context.Background(), db.New(f.pool)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules broken (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckOrphanLogLines(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.addRun(t, row{"COMPLETED", "Completed", 1, 0}, []entry{created, claimed, started, completed}, nil)
	f.addLogLine(t, uuid.New(), logLine{1, 1, 1, "nobody's"})
	got := rulesOf(t, Check(context.Background(), db.New(f.pool)))
	if diff := cmp.Diff([]Rule{RuleLogOrphan}, got); diff != "" {
		t.Errorf("rules broken (-want +got):\n%s", diff)
	}
}

// TestCheckReportsEveryRun checks that violations of several runs are all
// listed, each with its run.
func TestCheckReportsEveryRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	good := f.addRun(t, row{"COMPLETED", "Completed", 1, 0}, []entry{created, claimed, started, completed}, nil)
	bad1 := f.addRun(t, row{"SCHEDULED", "Scheduled", 1, 0}, nil, nil)
	bad2 := f.addRun(t, row{"RUNNING", "Running", 1, 5}, []entry{created, claimed, started, completed}, nil)
	err := Check(context.Background(), db.New(f.pool))
	var ve *ViolationError
	if !errors.As(err, &ve) {
		t.Fatalf("Check = %v, want a *ViolationError", err)
	}
	runs := make(map[uuid.UUID]Rule)
	for _, v := range ve.Violations {
		runs[v.RunID] = v.Rule
	}
	want := map[uuid.UUID]Rule{bad1: RuleNoHistory, bad2: RuleCurrentRow}
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Errorf("violations by run (-want +got):\n%s", diff)
	}
	if _, ok := runs[good]; ok {
		t.Errorf("the legal run %s was reported", good)
	}
}

func TestCheckLogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []logLine
		want  []string
		rules []Rule
	}{
		{
			name:  "exact output, system lines ignored, other attempts ignored",
			lines: []logLine{{1, 1, 1, "one"}, {1, 2, 3, "agent note"}, {1, 3, 2, "two"}, {2, 1, 1, "other"}},
			want:  []string{"one", "two"},
		},
		{
			name: "no output expected and none stored",
		},
		{
			name:  "line missing at the end",
			lines: []logLine{{1, 1, 1, "one"}},
			want:  []string{"one", "two"},
			rules: []Rule{RuleLogContent},
		},
		{
			name:  "line stored twice",
			lines: []logLine{{1, 1, 1, "one"}, {1, 2, 1, "one"}, {1, 3, 1, "two"}},
			want:  []string{"one", "two"},
			rules: []Rule{RuleLogContent},
		},
		{
			name:  "lines out of order",
			lines: []logLine{{1, 1, 1, "two"}, {1, 2, 1, "one"}},
			want:  []string{"one", "two"},
			rules: []Rule{RuleLogContent},
		},
		{
			name:  "gap in the numbering",
			lines: []logLine{{1, 1, 1, "one"}, {1, 3, 1, "two"}},
			want:  []string{"one", "two"},
			rules: []Rule{RuleLogSequence},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			id := f.addRun(t, row{"COMPLETED", "Completed", 2, 0}, nil, tt.lines)
			got := rulesOf(t, CheckLogs(context.Background(), db.New(f.pool), id, 1, tt.want))
			if diff := cmp.Diff(tt.rules, got); diff != "" {
				t.Errorf("rules broken (-want +got):\n%s", diff)
			}
		})
	}
}
