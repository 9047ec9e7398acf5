// Package ratelimit limits how fast one credential may call the control
// plane: a token bucket per API key, session or agent token, kept in memory
// by each replica. A call over the limit answers ResourceExhausted with the
// time to wait. It never looks at a request's content, only at the
// authenticated principal, so it must run after authentication.
//
// Known limitation: buckets are per replica, so behind a load balancer over
// N replicas a credential may make up to N times the configured rate.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/internal/clock"
)

// Defaults of [Config]. People and scripts rarely make more than a few
// calls a second; an agent heartbeats, reports and claims for many runs at
// once, so its limit is larger.
const (
	defaultRate       = 20
	defaultBurst      = 100
	defaultAgentRate  = 200
	defaultAgentBurst = 1000
	// sweepInterval is how often idle buckets are dropped.
	sweepInterval = time.Minute
)

// Config sets the limits. Zero fields take defaults.
type Config struct {
	// Rate is the sustained calls per second of one API key or session.
	// Default 20.
	Rate float64
	// Burst is how many calls one API key or session may make at once
	// after being idle. Default 100.
	Burst int
	// AgentRate is the sustained calls per second of one agent token.
	// Default 200.
	AgentRate float64
	// AgentBurst is the burst of one agent token. Default 1000.
	AgentBurst int
}

func (c *Config) fill() {
	if c.Rate <= 0 {
		c.Rate = defaultRate
	}
	if c.Burst <= 0 {
		c.Burst = defaultBurst
	}
	if c.AgentRate <= 0 {
		c.AgentRate = defaultAgentRate
	}
	if c.AgentBurst <= 0 {
		c.AgentBurst = defaultAgentBurst
	}
}

// limit is one class's rate (tokens per second) and burst.
type limit struct {
	rate  float64
	burst float64
}

// Limiter holds a token bucket per credential. It is safe for concurrent
// use.
type Limiter struct {
	people limit
	agents limit
	clock  clock.Clock

	mu        sync.Mutex
	buckets   map[uuid.UUID]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
	limit  limit
}

// New returns a Limiter with the limits of cfg.
func New(cfg Config, c clock.Clock) *Limiter {
	cfg.fill()
	return &Limiter{
		people:    limit{rate: cfg.Rate, burst: float64(cfg.Burst)},
		agents:    limit{rate: cfg.AgentRate, burst: float64(cfg.AgentBurst)},
		clock:     c,
		buckets:   make(map[uuid.UUID]*bucket),
		lastSweep: c.Now(),
	}
}

// Allow takes one token from p's bucket. When the bucket is empty it
// returns false and how long until a token is there.
func (l *Limiter) Allow(p auth.Principal) (ok bool, retryAfter time.Duration) {
	lim := l.people
	if p.Kind == auth.KindAgent {
		lim = l.agents
	}
	now := l.clock.Now()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, found := l.buckets[p.CredentialID]
	if !found {
		b = &bucket{tokens: lim.burst, last: now, limit: lim}
		l.buckets[p.CredentialID] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(lim.burst, b.tokens+elapsed*lim.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / lim.rate * float64(time.Second))
	return false, max(wait, time.Millisecond)
}

// sweep drops buckets that have refilled completely, so memory follows the
// credentials in use rather than all that were ever seen. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepInterval {
		return
	}
	l.lastSweep = now
	for id, b := range l.buckets {
		full := time.Duration((b.limit.burst - b.tokens) / b.limit.rate * float64(time.Second))
		if now.Sub(b.last) >= full {
			delete(l.buckets, id)
		}
	}
}

// Interceptor returns the Connect interceptor that enforces the limits. It
// must come after authentication; calls without a principal (public
// procedures such as login, which have their own limits) pass.
func (l *Limiter) Interceptor() connect.Interceptor { return interceptor{l} }

type interceptor struct{ l *Limiter }

func (i interceptor) check(ctx context.Context) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil
	}
	allowed, wait := i.l.Allow(p)
	if allowed {
		return nil
	}
	err := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"too many calls with this credential: retry after %s", wait.Round(time.Millisecond)))
	// Retry-After takes whole seconds; round up so a client never retries early.
	err.Meta().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return err
}

// WrapUnary limits unary calls.
func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.check(ctx); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient returns next: the limits apply to handlers only.
func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler counts opening a stream as one call; messages on an
// open stream are not limited.
func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := i.check(ctx); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
