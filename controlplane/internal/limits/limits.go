package limits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Kind names the kind of scope a limit applies to.
type Kind string

// The scope kinds, in the order their rows are locked.
const (
	// KindPool is a work pool's concurrency_limit.
	KindPool Kind = "pool"
	// KindQueue is a work queue's concurrency_limit.
	KindQueue Kind = "queue"
	// KindDeployment is a deployment's concurrency_limit.
	KindDeployment Kind = "deployment"
	// KindNamed is a named limit of ConcurrencyLimitService.
	KindNamed Kind = "limit"
)

// Scope is one limit's scope: the row that carries the limit.
type Scope struct {
	Kind Kind
	ID   uuid.UUID
}

// ErrFull is wrapped by every [*FullError].
var ErrFull = errors.New("concurrency limit full")

// FullError reports a run that a full concurrency limit keeps waiting.
type FullError struct {
	// Scope is the full limit's scope.
	Scope Scope
	// Limit is the number of slots.
	Limit int32
}

// Error names the full limit.
func (e *FullError) Error() string {
	return fmt.Sprintf("%s concurrency limit %s is full (%d slots)", e.Scope.Kind, e.Scope.ID, e.Limit)
}

// Unwrap returns [ErrFull].
func (e *FullError) Unwrap() error { return ErrFull }

// item is a run that would take a slot of every one of its limited scopes.
type item struct {
	id     uuid.UUID
	scopes []Scope
}

// limited returns the scopes of a run whose limit is set; a zero limit
// means none (named limits always have at least one slot).
func limited(poolID uuid.UUID, poolLimit int32, queueID uuid.UUID, queueLimit int32,
	deploymentID uuid.UUID, deploymentLimit int32, named []uuid.UUID,
) []Scope {
	var out []Scope
	if poolLimit > 0 {
		out = append(out, Scope{KindPool, poolID})
	}
	if queueLimit > 0 {
		out = append(out, Scope{KindQueue, queueID})
	}
	if deploymentLimit > 0 {
		out = append(out, Scope{KindDeployment, deploymentID})
	}
	for _, id := range named {
		out = append(out, Scope{KindNamed, id})
	}
	return out
}

// budget is what is left of each locked limit: slots minus active runs.
type budget struct {
	free  map[Scope]int32
	limit map[Scope]int32
}

// admit walks items in order and admits each whose every scope has a free
// slot, taking one slot of each, until max are admitted. A scope absent
// from the budget has no limit (it was removed before the lock was taken).
// It returns the admitted ids in order and, for each refused item, the
// first full scope it met.
func (b budget) admit(items []item, max int) ([]uuid.UUID, map[uuid.UUID]*FullError) {
	var (
		admitted []uuid.UUID
		refused  = make(map[uuid.UUID]*FullError)
	)
	for _, it := range items {
		if len(admitted) >= max {
			break
		}
		var full *FullError
		for _, s := range it.scopes {
			if f, ok := b.free[s]; ok && f <= 0 {
				full = &FullError{Scope: s, Limit: b.limit[s]}
				break
			}
		}
		if full != nil {
			refused[it.id] = full
			continue
		}
		for _, s := range it.scopes {
			if _, ok := b.free[s]; ok {
				b.free[s]--
			}
		}
		admitted = append(admitted, it.id)
	}
	return admitted, refused
}

// lockAndCount locks the rows of scopes in the fixed order, then counts the
// active runs of each in a later statement, leaving out exclude. Scopes
// whose limit is gone by the time the lock is held are left out of the
// budget, which makes them unlimited.
func lockAndCount(
	ctx context.Context,
	q db.Querier,
	workspaceID uuid.UUID,
	now time.Time,
	scopes []Scope,
	exclude []uuid.UUID,
) (budget, error) {
	ids := make(map[Kind][]uuid.UUID)
	for _, s := range scopes {
		ids[s.Kind] = append(ids[s.Kind], s.ID)
	}
	for k, v := range ids {
		slices.SortFunc(v, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
		ids[k] = slices.Compact(v)
	}
	b := budget{free: make(map[Scope]int32), limit: make(map[Scope]int32)}
	set := func(s Scope, limit int32) {
		if limit > 0 {
			b.limit[s] = limit
		}
	}
	for _, id := range ids[KindPool] {
		limit, err := q.LimitLockPool(ctx, id)
		if err != nil {
			return budget{}, fmt.Errorf("lock pool limit: %w", err)
		}
		set(Scope{KindPool, id}, limit)
	}
	if len(ids[KindQueue]) > 0 {
		rows, err := q.LimitLockQueues(ctx, ids[KindQueue])
		if err != nil {
			return budget{}, fmt.Errorf("lock queue limits: %w", err)
		}
		for _, r := range rows {
			set(Scope{KindQueue, r.ID}, r.ConcurrencyLimit)
		}
	}
	if len(ids[KindDeployment]) > 0 {
		rows, err := q.LimitLockDeployments(ctx, ids[KindDeployment])
		if err != nil {
			return budget{}, fmt.Errorf("lock deployment limits: %w", err)
		}
		for _, r := range rows {
			set(Scope{KindDeployment, r.DeploymentID}, r.ConcurrencyLimit)
		}
	}
	if len(ids[KindNamed]) > 0 {
		rows, err := q.LimitLockNamed(ctx, ids[KindNamed])
		if err != nil {
			return budget{}, fmt.Errorf("lock named limits: %w", err)
		}
		for _, r := range rows {
			set(Scope{KindNamed, r.ID}, r.Slots)
		}
	}
	if len(b.limit) == 0 {
		return b, nil
	}

	if exclude == nil {
		exclude = []uuid.UUID{}
	}
	counts, err := q.LimitActiveCounts(ctx, db.LimitActiveCountsParams{
		WorkspaceID: workspaceID, Now: now, ExcludeIds: exclude,
		PoolIds: orEmpty(ids[KindPool]), QueueIds: orEmpty(ids[KindQueue]),
		DeploymentIds: orEmpty(ids[KindDeployment]), LimitIds: orEmpty(ids[KindNamed]),
	})
	if err != nil {
		return budget{}, fmt.Errorf("count active runs: %w", err)
	}
	active := make(map[Scope]int32, len(counts))
	for _, c := range counts {
		active[Scope{Kind(c.Kind), c.ID}] = c.Active
	}
	for s, limit := range b.limit {
		b.free[s] = limit - active[s]
	}
	return b, nil
}

func orEmpty(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

// OfferParams says which runs [Offer] may offer, to whom, and until when.
type OfferParams struct {
	WorkspaceID uuid.UUID
	PoolID      uuid.UUID
	AgentID     uuid.UUID
	// Now is the time of the offer.
	Now time.Time
	// ExpireTime ends the offer.
	ExpireTime time.Time
	// Max caps the runs offered: the agent's free capacity.
	Max int32
}

// Offer offers up to p.Max due runs of a pool to an agent in dispatch order
// (queue priority, run priority, expected start), skipping paused queues
// and deployments and every run that a full concurrency limit holds back.
// Run it in a transaction: the limit rows it locks stay locked until the
// transaction ends. It returns the runs offered, in dispatch order, and
// whether more runs may be waiting for the agent (a full batch of
// candidates was read and some were offered).
func Offer(ctx context.Context, q db.Querier, p OfferParams) ([]db.Run, bool, error) {
	if p.Max <= 0 {
		return nil, false, nil
	}
	cands, err := q.LimitOfferCandidates(ctx, db.LimitOfferCandidatesParams{
		WorkspaceID: p.WorkspaceID, PoolID: p.PoolID, Now: p.Now, MaxRuns: p.Max,
	})
	if err != nil {
		return nil, false, fmt.Errorf("read runs to offer: %w", err)
	}
	if len(cands) == 0 {
		return nil, false, nil
	}
	items := make([]item, len(cands))
	var scopes []Scope
	for i, c := range cands {
		s := limited(c.PoolID, c.PoolLimit, c.QueueID, c.QueueLimit, c.DeploymentID, c.DeploymentLimit, c.LimitIds)
		items[i] = item{id: c.ID, scopes: s}
		scopes = append(scopes, s...)
	}
	ids := make([]uuid.UUID, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	if len(scopes) > 0 {
		b, err := lockAndCount(ctx, q, p.WorkspaceID, p.Now, scopes, nil)
		if err != nil {
			return nil, false, err
		}
		ids, _ = b.admit(items, int(p.Max))
	}
	if len(ids) == 0 {
		return nil, false, nil
	}

	exp := p.ExpireTime
	rows, err := q.LimitOfferMark(ctx, db.LimitOfferMarkParams{
		AgentID: p.AgentID, OfferExpireTime: &exp, Now: p.Now, Ids: ids,
	})
	if err != nil {
		return nil, false, fmt.Errorf("offer runs: %w", err)
	}
	order := make(map[uuid.UUID]int, len(ids))
	for i, id := range ids {
		order[id] = i
	}
	slices.SortFunc(rows, func(a, b db.Run) int { return order[a.ID] - order[b.ID] })
	return rows, len(cands) == int(p.Max) && len(rows) > 0, nil
}

// Claim is one run an agent claims under the token of its offer.
type Claim struct {
	RunID uuid.UUID
	Token int64
}

// AdmitClaims checks an agent's claims against the concurrency limits in
// the claim transaction, and returns the claims refused because a limit is
// full, by run id. An offer was counted when it was made, so a claim of a
// live offer is refused only when a limit was lowered since; a claim of an
// offer that lapsed (the run may have been offered again, or its slot given
// to another run) is admitted only if a slot is free now. Claims that do
// not match a current offer to the agent are neither admitted nor refused:
// the state machine answers them. The limit rows stay locked until the
// transaction ends, so the claims are applied under the same locks.
func AdmitClaims(
	ctx context.Context,
	q db.Querier,
	agentID uuid.UUID,
	claims []Claim,
	now time.Time,
) (map[uuid.UUID]*FullError, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	tokens := make(map[uuid.UUID]int64, len(claims))
	ids := make([]uuid.UUID, 0, len(claims))
	for _, c := range claims {
		tokens[c.RunID] = c.Token
		ids = append(ids, c.RunID)
	}
	rows, err := q.LimitRunScopes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read limits of claimed runs: %w", err)
	}
	var (
		items     []item
		scopes    []Scope
		claimed   []uuid.UUID
		workspace uuid.UUID
	)
	for _, r := range rows {
		valid := r.State == "SCHEDULED" && r.AgentID.Valid && r.AgentID.UUID == agentID &&
			r.LeaseToken != 0 && r.LeaseToken == tokens[r.ID]
		if !valid {
			continue
		}
		s := limited(r.PoolID, r.PoolLimit, r.QueueID, r.QueueLimit, r.DeploymentID, r.DeploymentLimit, r.LimitIds)
		if len(s) == 0 {
			continue
		}
		workspace = r.WorkspaceID
		items = append(items, item{id: r.ID, scopes: s})
		scopes = append(scopes, s...)
		claimed = append(claimed, r.ID)
	}
	if len(items) == 0 {
		return nil, nil
	}
	b, err := lockAndCount(ctx, q, workspace, now, scopes, claimed)
	if err != nil {
		return nil, err
	}
	_, refused := b.admit(items, len(items))
	return refused, nil
}
