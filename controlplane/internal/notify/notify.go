// Package notify delivers PostgreSQL notifications (LISTEN/NOTIFY) to the
// goroutines of this process that wait for them: the dispatcher, run
// watchers and log followers.
package notify

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Resync is the payload delivered to every subscriber after the listening
// connection was re-established: notifications may have been missed, so
// subscribers must re-read what they watch.
const Resync = "*"

// Listener holds one connection listening on a fixed set of channels.
type Listener struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	channels []string

	mu     sync.RWMutex
	nextID int
	subs   map[string]map[int]func(string)
	ready  chan struct{}
	once   sync.Once
}

// NewListener returns a Listener for channels over pool.
func NewListener(pool *pgxpool.Pool, log *slog.Logger, channels ...string) *Listener {
	subs := make(map[string]map[int]func(string), len(channels))
	for _, c := range channels {
		subs[c] = make(map[int]func(string))
	}
	return &Listener{pool: pool, log: log, channels: channels, subs: subs, ready: make(chan struct{})}
}

// Subscribe calls fn with the payload of every notification on channel until
// the returned function is called. fn runs on the listener's goroutine and
// must not block.
func (l *Listener) Subscribe(channel string, fn func(payload string)) (unsubscribe func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextID++
	id := l.nextID
	m, ok := l.subs[channel]
	if !ok {
		panic("notify: subscribe to unknown channel " + channel)
	}
	m[id] = fn
	return func() {
		l.mu.Lock()
		delete(l.subs[channel], id)
		l.mu.Unlock()
	}
}

// Ready is closed once the listener first listens.
func (l *Listener) Ready() <-chan struct{} { return l.ready }

// Run listens until ctx ends, reconnecting with capped, jittered backoff.
func (l *Listener) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		l.log.WarnContext(ctx, "notification listener lost its connection; reconnecting", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (l *Listener) listen(ctx context.Context) error {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection keeps LISTEN state, so it never goes back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	for _, c := range l.channels {
		if _, err := pc.Exec(ctx, "LISTEN "+c); err != nil {
			return err
		}
	}
	l.once.Do(func() { close(l.ready) })
	// Anything sent while we were not listening is lost: tell everyone.
	for _, c := range l.channels {
		l.deliver(c, Resync)
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.deliver(n.Channel, n.Payload)
	}
}

func (l *Listener) deliver(channel, payload string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, fn := range l.subs[channel] {
		fn(payload)
	}
}
