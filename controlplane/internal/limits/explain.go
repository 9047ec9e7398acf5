package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Code classifies a [Reason].
type Code string

// The reason codes of [Explain].
const (
	// CodeNotDue: the run's expected start, or its retry delay, is ahead.
	CodeNotDue Code = "not_due"
	// CodePoolPaused: the run's work pool is paused.
	CodePoolPaused Code = "pool_paused"
	// CodeQueuePaused: the run's work queue is paused.
	CodeQueuePaused Code = "queue_paused"
	// CodeDeploymentPaused: the run's deployment is paused.
	CodeDeploymentPaused Code = "deployment_paused"
	// CodeNoAgent: no agent of the run's pool is online.
	CodeNoAgent Code = "no_agent"
	// CodeAgentsDraining: every online agent of the pool is draining.
	CodeAgentsDraining Code = "agents_draining"
	// CodeAgentsAtCapacity: every accepting agent of the pool is full.
	CodeAgentsAtCapacity Code = "agents_at_capacity"
	// CodeConcurrencyLimit: a limit the run counts against is full.
	CodeConcurrencyLimit Code = "concurrency_limit"
	// CodePriority: due runs ahead of it in dispatch order wait too.
	CodePriority Code = "priority"
	// CodeOffered: the run is offered to an agent that has not claimed it.
	CodeOffered Code = "offered"
	// CodePolicyDenied: an agent rejected the run (its policy, or a bad
	// work-order signature).
	CodePolicyDenied Code = "policy_denied"
	// CodeActive: the run is pending, running or cancelling.
	CodeActive Code = "active"
	// CodeEnded: the run has ended.
	CodeEnded Code = "ended"
)

// Reason is one thing that holds a run back, or what became of it.
type Reason struct {
	Code Code
	// Message says it for people.
	Message string
	// Limit names a full limit: "pool/NAME", "queue/POOL/NAME",
	// "deployment/NAME" or "limit/NAME".
	Limit string
	// HoldingRunIDs are the runs that hold the full limit's slots.
	HoldingRunIDs []uuid.UUID
	// RunsAhead counts the due runs offered before this one.
	RunsAhead int32
	// AgentID is the agent the run is offered to or leased by; zero if none.
	AgentID uuid.UUID
	// Until is when the reason lapses by itself; zero if it does not.
	Until time.Time
}

// ExplainParams is what [Explain] needs besides the database.
type ExplainParams struct {
	// Run is the run to explain.
	Run db.Run
	// Now is the time of the explanation.
	Now time.Time
	// AgentStaleBefore: an agent whose last heartbeat is older is offline.
	AgentStaleBefore time.Time
}

// Explain says why p.Run is not running. A run that is active or has ended
// gets one reason saying so; a waiting run gets every reason that holds it
// back now, most fundamental first. A due run with no reason is merely
// waiting for the dispatcher's next round. It reads without locks, so the
// answer is a snapshot.
func Explain(ctx context.Context, q db.Querier, p ExplainParams) ([]Reason, error) {
	r := p.Run
	state := run.State(r.State)
	agent := uuid.Nil
	if r.AgentID.Valid {
		agent = r.AgentID.UUID
	}
	switch {
	case state == run.StateFailed && r.StateName == run.NameRejected:
		return []Reason{{Code: CodePolicyDenied, Message: "an agent rejected the run: " + r.StateMessage}}, nil
	case run.IsTerminal(state):
		msg := fmt.Sprintf("the run ended %s", r.StateName)
		if r.StateMessage != "" {
			msg += ": " + r.StateMessage
		}
		return []Reason{{Code: CodeEnded, Message: msg}}, nil
	case state != run.StateScheduled:
		return []Reason{{Code: CodeActive, AgentID: agent, Until: orZero(r.LeaseExpireTime),
			Message: fmt.Sprintf("the run is %s on agent %s", r.StateName, agent)}}, nil
	case r.LeaseExpireTime != nil && r.LeaseExpireTime.After(p.Now):
		return []Reason{{Code: CodeOffered, AgentID: agent, Until: *r.LeaseExpireTime,
			Message: fmt.Sprintf("the run is offered to agent %s, which has until %s to claim it",
				agent, r.LeaseExpireTime.UTC().Format(time.RFC3339))}}, nil
	}

	var out []Reason
	due := !r.ExpectedStartTime.After(p.Now)
	if !due {
		what := "scheduled to start"
		if r.StateName == run.NameAwaitingRetry {
			what = "awaiting retry; attempt " + fmt.Sprint(r.Attempt) + " may start"
		}
		out = append(out, Reason{Code: CodeNotDue, Until: r.ExpectedStartTime,
			Message: fmt.Sprintf("the run is %s at %s", what, r.ExpectedStartTime.UTC().Format(time.RFC3339))})
	}
	pool, err := q.WorkPoolGet(ctx, r.PoolID)
	if err != nil {
		return nil, fmt.Errorf("read pool: %w", err)
	}
	queue, err := q.WorkQueueGet(ctx, r.QueueID)
	if err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	dep, err := q.DeploymentGet(ctx, r.DeploymentID)
	if err != nil {
		return nil, fmt.Errorf("read deployment: %w", err)
	}
	if pool.Paused {
		out = append(out, Reason{Code: CodePoolPaused, Message: fmt.Sprintf("work pool %s is paused", pool.Name)})
	}
	if queue.Paused {
		out = append(out, Reason{Code: CodeQueuePaused,
			Message: fmt.Sprintf("work queue %s of pool %s is paused", queue.Name, pool.Name)})
	}
	controls, err := q.DeploymentControlsGet(ctx, r.DeploymentID)
	switch {
	case store.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read deployment controls: %w", err)
	case controls.Paused:
		out = append(out, Reason{Code: CodeDeploymentPaused, Message: fmt.Sprintf("deployment %s is paused", dep.Name)})
	}

	agents, err := q.AgentList(ctx, r.PoolID)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	if a := agentReason(agents, pool.Name, p.AgentStaleBefore); a != nil {
		out = append(out, *a)
	}

	full, err := fullLimits(ctx, q, r, p.Now, pool, queue, dep)
	if err != nil {
		return nil, err
	}
	out = append(out, full...)

	if due {
		ahead, err := q.LimitRunsAhead(ctx, db.LimitRunsAheadParams{
			PoolID: r.PoolID, Now: p.Now, QueuePriority: queue.Priority, RunPriority: r.Priority,
			ExpectedStartTime: r.ExpectedStartTime, RunID: r.ID,
		})
		if err != nil {
			return nil, fmt.Errorf("count runs ahead: %w", err)
		}
		if ahead > 0 {
			out = append(out, Reason{Code: CodePriority, RunsAhead: ahead,
				Message: runsAheadMessage(ahead, pool.Name)})
		}
	}
	return out, nil
}

// runsAheadMessage says that n due runs of pool come before the run.
func runsAheadMessage(n int32, pool string) string {
	if n == 1 {
		return fmt.Sprintf("1 due run of pool %s comes first (queue priority, run priority, then expected start)", pool)
	}
	return fmt.Sprintf("%d due runs of pool %s come first (queue priority, run priority, then expected start)", n, pool)
}

// agentReason says why no agent of the pool can take a run, or returns nil
// when one can.
func agentReason(agents []db.AgentListRow, pool string, staleBefore time.Time) *Reason {
	online, accepting := 0, 0
	for _, a := range agents {
		if a.DisconnectTime != nil || a.LastHeartbeatTime.Before(staleBefore) {
			continue
		}
		online++
		if a.Draining || a.DrainRequested {
			continue
		}
		accepting++
		if a.ActiveRuns < a.Capacity {
			return nil
		}
	}
	switch {
	case online == 0:
		return &Reason{Code: CodeNoAgent, Message: fmt.Sprintf("no agent of work pool %s is online", pool)}
	case accepting == 0 && online == 1:
		return &Reason{Code: CodeAgentsDraining,
			Message: fmt.Sprintf("the only online agent of work pool %s is draining", pool)}
	case accepting == 0:
		return &Reason{Code: CodeAgentsDraining,
			Message: fmt.Sprintf("all %d online agents of work pool %s are draining", online, pool)}
	case accepting == 1:
		return &Reason{Code: CodeAgentsAtCapacity,
			Message: fmt.Sprintf("the only accepting agent of work pool %s is at capacity", pool)}
	}
	return &Reason{Code: CodeAgentsAtCapacity,
		Message: fmt.Sprintf("all %d accepting agents of work pool %s are at capacity", accepting, pool)}
}

// fullLimits returns a reason for each full limit the run counts against,
// naming the runs that hold its slots.
func fullLimits(
	ctx context.Context,
	q db.Querier,
	r db.Run,
	now time.Time,
	pool db.WorkPool,
	queue db.WorkQueue,
	dep db.Deployment,
) ([]Reason, error) {
	scopes, err := q.LimitRunScopes(ctx, []uuid.UUID{r.ID})
	if err != nil || len(scopes) == 0 {
		return nil, fmt.Errorf("read the run's limits: %w", err)
	}
	sc := scopes[0]
	limits := limited(sc.PoolID, sc.PoolLimit, sc.QueueID, sc.QueueLimit, sc.DeploymentID, sc.DeploymentLimit, sc.LimitIds)
	if len(limits) == 0 {
		return nil, nil
	}
	active, err := q.ConcurrencyLimitActiveRuns(ctx, db.ConcurrencyLimitActiveRunsParams{WorkspaceID: r.WorkspaceID, Now: now})
	if err != nil {
		return nil, fmt.Errorf("list active runs: %w", err)
	}
	named := make(map[uuid.UUID]db.ConcurrencyLimit)
	if len(sc.LimitIds) > 0 {
		rows, err := q.ConcurrencyLimitList(ctx, r.WorkspaceID)
		if err != nil {
			return nil, fmt.Errorf("list named limits: %w", err)
		}
		for _, l := range rows {
			named[l.ID] = l
		}
	}
	var out []Reason
	for _, s := range limits {
		var (
			label string
			slots int32
		)
		switch s.Kind {
		case KindPool:
			label, slots = "pool/"+pool.Name, sc.PoolLimit
		case KindQueue:
			label, slots = "queue/"+pool.Name+"/"+queue.Name, sc.QueueLimit
		case KindDeployment:
			label, slots = "deployment/"+dep.Name, sc.DeploymentLimit
		case KindNamed:
			l, ok := named[s.ID]
			if !ok {
				continue
			}
			label, slots = "limit/"+l.Name, l.Slots
		}
		var holders []uuid.UUID
		for _, a := range active {
			if a.ID != r.ID && holds(a, s) {
				holders = append(holders, a.ID)
			}
		}
		if int32(len(holders)) < slots {
			continue
		}
		out = append(out, Reason{Code: CodeConcurrencyLimit, Limit: label, HoldingRunIDs: holders,
			Message: fullLimitMessage(label, len(holders), slots)})
	}
	return out, nil
}

// holds reports whether active run a takes a slot of scope s.
func holds(a db.ConcurrencyLimitActiveRunsRow, s Scope) bool {
	switch s.Kind {
	case KindPool:
		return a.PoolID == s.ID
	case KindQueue:
		return a.QueueID == s.ID
	case KindDeployment:
		return a.DeploymentID == s.ID
	case KindNamed:
		for _, id := range a.LimitIds {
			if id == s.ID {
				return true
			}
		}
	}
	return false
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// fullLimitMessage says that held of the slots of limit label are held.
func fullLimitMessage(label string, held int, slots int32) string {
	unit := "slots"
	if slots == 1 {
		unit = "slot"
	}
	return fmt.Sprintf("concurrency limit %s is full: %d of %d %s held", label, held, slots, unit)
}
