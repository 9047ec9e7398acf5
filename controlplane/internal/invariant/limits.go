package invariant

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// limitScope is one concurrency limit: a pool, queue, deployment or named
// limit, by kind and id.
type limitScope struct {
	kind string
	id   uuid.UUID
}

func (s limitScope) String() string { return s.kind + " " + s.id.String() }

// limits replays the whole history in id order and reports each claim that
// took a limit above its slots. A run holds a slot of each of its limits
// from its move to PENDING until it leaves the leased states.
//
// History ids come from a sequence at insert time, not at commit. A claim
// counts under the locks of its limits, and every release it saw committed
// was inserted before that count, so it has a lower id; replaying in id
// order therefore never shows a release later than the claim saw it, which
// would report a violation that did not happen. It may show one earlier (a
// release inserted between the claim's count and its own entry), so an
// excess confined to that window could go unseen.
func (c *checker) limits(ctx context.Context, q db.Querier, history []db.RunStateChange) error {
	scopes, err := q.LimitRunScopesAll(ctx)
	if err != nil {
		return fmt.Errorf("read run limits: %w", err)
	}
	named, err := q.ConcurrencyLimitListAll(ctx)
	if err != nil {
		return fmt.Errorf("read named limits: %w", err)
	}
	slots := make(map[limitScope]int32)
	byRun := make(map[uuid.UUID][]limitScope)
	for _, r := range scopes {
		add := func(kind string, id uuid.UUID, n int32) {
			if n > 0 {
				s := limitScope{kind, id}
				slots[s] = n
				byRun[r.ID] = append(byRun[r.ID], s)
			}
		}
		add("pool", r.PoolID, r.PoolLimit)
		add("queue", r.QueueID, r.QueueLimit)
		add("deployment", r.DeploymentID, r.DeploymentLimit)
		for _, id := range r.LimitIds {
			i := slices.IndexFunc(named, func(l db.ConcurrencyLimit) bool { return l.ID == id })
			if i >= 0 {
				add("limit", id, named[i].Slots)
			}
		}
	}
	if len(slots) == 0 {
		return nil
	}

	ordered := slices.Clone(history)
	slices.SortFunc(ordered, func(a, b db.RunStateChange) int { return cmp.Compare(a.ID, b.ID) })
	holding := make(map[uuid.UUID]bool)
	held := make(map[limitScope]int32)
	reported := make(map[limitScope]bool)
	for _, e := range ordered {
		mine := byRun[e.RunID]
		if len(mine) == 0 {
			continue
		}
		leased := isLeased(run.State(e.ToState))
		switch {
		case leased && !holding[e.RunID]:
			holding[e.RunID] = true
			for _, s := range mine {
				held[s]++
				if held[s] > slots[s] && !reported[s] {
					reported[s] = true
					c.add(Violation{Rule: RuleConcurrencyLimit, RunID: e.RunID, HistoryID: e.ID,
						Detail: fmt.Sprintf("claim made %s hold %d runs, above its %d slots", s, held[s], slots[s])})
				}
			}
		case !leased && holding[e.RunID]:
			holding[e.RunID] = false
			for _, s := range mine {
				held[s]--
			}
		}
	}
	return nil
}
