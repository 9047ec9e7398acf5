package policystore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

// defaultCacheTTL is how long cached modules are used before the
// generation is read again. Notifications on [Channel] invalidate sooner;
// the TTL bounds staleness when one is lost.
const defaultCacheTTL = 5 * time.Second

// WorkspaceModules returns the function the evaluator of kind calls on
// every decision: it yields the workspace's active modules of kind (Name is
// the policy name; its file is [ModuleFileName]) and a version string
// that changes whenever the set changes, so the caller can cache what it
// compiled by (workspace, version). A workspace with no policy of kind gets
// no modules and version "0".
//
// Results are cached per workspace and kind; after [defaultCacheTTL] one
// query reads the generation, and the sources are read again only when it
// moved. [Store.Invalidate] drops entries sooner. The modules returned are
// shared between callers, which must not change them.
func (s *Store) WorkspaceModules(kind Kind) func(ctx context.Context, workspaceID uuid.UUID) ([]Module, string, error) {
	return func(ctx context.Context, ws uuid.UUID) ([]Module, string, error) {
		return s.cache.get(ctx, s.st.Q, ws, kind)
	}
}

// Invalidate drops cached modules after a notification on [Channel]:
// payload "<workspace id>/<kind>" drops that entry; [notify.Resync] or any
// payload not understood drops them all.
func (s *Store) Invalidate(payload string) {
	ws, kind, ok := strings.Cut(payload, "/")
	id, err := uuid.Parse(ws)
	if !ok || err != nil || !Kind(kind).Valid() || payload == notify.Resync {
		s.cache.clear()
		return
	}
	s.cache.invalidate(id, Kind(kind))
}

type cacheKey struct {
	ws   uuid.UUID
	kind Kind
}

type cacheEntry struct {
	generation int64
	modules    []Module
	checked    time.Time
}

// moduleCache holds the active modules per workspace and kind.
type moduleCache struct {
	clock clock.Clock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

func newModuleCache(clk clock.Clock, ttl time.Duration) *moduleCache {
	return &moduleCache{clock: clk, ttl: ttl, entries: make(map[cacheKey]cacheEntry)}
}

func (c *moduleCache) get(ctx context.Context, q db.Querier, ws uuid.UUID, kind Kind) ([]Module, string, error) {
	key := cacheKey{ws, kind}
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.checked) < c.ttl {
		return e.modules, strconv.FormatInt(e.generation, 10), nil
	}

	// The generation is read before the sources: a change committed in
	// between leaves new sources under the old generation, which the next
	// check replaces, never old sources under a new generation.
	gen, err := q.PolicyGenerationGet(ctx, db.PolicyGenerationGetParams{WorkspaceID: ws, Kind: string(kind)})
	if err != nil {
		return nil, "", fmt.Errorf("read policy generation: %w", err)
	}
	if !ok || gen != e.generation {
		active, err := activeModules(ctx, q, ws, kind)
		if err != nil {
			return nil, "", err
		}
		e.modules = make([]Module, len(active))
		for i, m := range active {
			e.modules[i] = m.Module
		}
		e.generation = gen
	}
	e.checked = now
	c.mu.Lock()
	c.entries[key] = e
	c.mu.Unlock()
	return e.modules, strconv.FormatInt(e.generation, 10), nil
}

func (c *moduleCache) invalidate(ws uuid.UUID, kind Kind) {
	c.mu.Lock()
	delete(c.entries, cacheKey{ws, kind})
	c.mu.Unlock()
}

func (c *moduleCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
