package mask

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Registry holds the secrets of every run the agent holds, so the agent's
// own logs and messages can be masked with all of them at once. It is safe
// for concurrent use; a nil *Registry masks nothing.
type Registry struct {
	minLen int

	mu   sync.Mutex
	sets map[string]map[string]string
	cur  atomic.Pointer[Masker]
}

// NewRegistry returns an empty registry whose maskers skip values shorter
// than minLen (see [New]).
func NewRegistry(minLen int) *Registry {
	return &Registry{minLen: minLen, sets: make(map[string]map[string]string)}
}

// Add registers the resolved secrets of one run under id and returns the
// warnings of [New] for them (values too short to mask).
func (r *Registry) Add(id string, secrets map[string]string) []string {
	if r == nil || len(secrets) == 0 {
		return nil
	}
	_, warnings := New(secrets, r.minLen)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets[id] = secrets
	r.rebuildLocked()
	return warnings
}

// Remove forgets the secrets registered under id.
func (r *Registry) Remove(id string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sets[id]; !ok {
		return
	}
	delete(r.sets, id)
	r.rebuildLocked()
}

func (r *Registry) rebuildLocked() {
	all := make(map[string]string)
	for id, set := range r.sets {
		for name, v := range set {
			all[id+"/"+name] = v
		}
	}
	if len(all) == 0 {
		r.cur.Store(nil)
		return
	}
	m, _ := New(all, r.minLen)
	r.cur.Store(m)
}

// Masker returns a masker for every registered secret; nil when none is.
func (r *Registry) Masker() *Masker {
	if r == nil {
		return nil
	}
	return r.cur.Load()
}

// MaskString masks every registered secret in s.
func (r *Registry) MaskString(s string) string { return r.Masker().MaskString(s) }

// Handler returns a [slog.Handler] that masks each record with the secrets
// registered when it is handled, then passes it on to next.
func (r *Registry) Handler(next slog.Handler) slog.Handler {
	return &registryHandler{r: r, next: next}
}

type registryHandler struct {
	r    *Registry
	next slog.Handler
}

func (h *registryHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *registryHandler) Handle(ctx context.Context, rec slog.Record) error {
	m := h.r.Masker()
	if m == nil {
		return h.next.Handle(ctx, rec)
	}
	return m.Handler(h.next).Handle(ctx, rec)
}

// WithAttrs masks attrs with the secrets registered now; attributes bound
// to a logger are names and ids, which hold no secret in practice.
func (h *registryHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	next := h.next
	if m := h.r.Masker(); m != nil {
		next = m.Handler(next)
	}
	return &registryHandler{r: h.r, next: next.WithAttrs(attrs)}
}

func (h *registryHandler) WithGroup(name string) slog.Handler {
	return &registryHandler{r: h.r, next: h.next.WithGroup(name)}
}
