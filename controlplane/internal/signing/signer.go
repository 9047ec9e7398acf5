package signing

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// DefaultRefreshInterval is how often [Signer.Run] reloads the keys when no
// notification arrives: a safety net for a notification missed while the
// listener reconnected, short enough that a key retired on another replica
// stops being used soon.
const DefaultRefreshInterval = time.Minute

// refreshTimeout bounds one reload of the keys.
const refreshTimeout = 30 * time.Second

// ErrNoActiveKey reports that the signer has no key to sign with: it was not
// started, or every key it knows is retired or not yet active.
var ErrNoActiveKey = errors.New("signing: no active signing key")

// privateKey is an unsealed key the signer may use.
type privateKey struct {
	id       string
	activate time.Time
	priv     ed25519.PrivateKey
}

// Signer signs work orders with the active key of a [Keyring], from a cache
// of unsealed keys. It is safe for concurrent use.
type Signer struct {
	keys  *Keyring
	clock clock.Clock
	log   *slog.Logger
	// RefreshInterval is how often Run reloads the keys. Default
	// [DefaultRefreshInterval].
	RefreshInterval time.Duration

	poke chan struct{}

	mu sync.RWMutex
	// cached holds the keys not retired, in activation order.
	cached []privateKey
}

// NewSigner returns a Signer over keys; call [Signer.Start] before signing.
func NewSigner(keys *Keyring, clk clock.Clock, log *slog.Logger) *Signer {
	return &Signer{keys: keys, clock: clk, log: log, poke: make(chan struct{}, 1)}
}

// Start makes sure a key is active, creating the installation's first key
// when there is none, and loads the keys. It fails when the key-encryption
// key does not open them (an error wrapping [ErrWrongKEK]).
func (s *Signer) Start(ctx context.Context) error {
	key, created, err := s.keys.EnsureActive(ctx, s.clock.Now())
	if err != nil {
		return err
	}
	if created {
		s.log.InfoContext(ctx, "signing key created", slog.String("key_id", key.ID))
	}
	return s.Refresh(ctx)
}

// Refresh reloads the keys from the database.
func (s *Signer) Refresh(ctx context.Context) error {
	keys, err := s.keys.usable(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	s.mu.Lock()
	s.cached = keys
	s.mu.Unlock()
	return nil
}

// Poke asks [Signer.Run] to reload the keys soon. It never blocks, so it may
// be called from a notification callback.
func (s *Signer) Poke() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run reloads the keys on every [Signer.Poke] and every RefreshInterval
// until ctx ends. A failed reload keeps the previous keys and is retried on
// the next tick.
func (s *Signer) Run(ctx context.Context) {
	interval := s.RefreshInterval
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.poke:
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		err := s.Refresh(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reload signing keys", slog.Any("error", err))
		}
	}
}

// ActiveKeyID returns the id of the key that signs at the signer's current
// time, or "" when there is none.
func (s *Signer) ActiveKeyID() string {
	k, ok := s.active()
	if !ok {
		return ""
	}
	return k.id
}

// Sign serializes order deterministically and signs the bytes with the key
// active now. It returns the bytes to send as WorkOrder.signed_order, their
// Ed25519 signature and the key's id. It fails with [ErrNoActiveKey] before
// [Signer.Start] succeeded.
func (s *Signer) Sign(order *ferryv1.SignedOrder) (signedBytes, signature []byte, keyID string, err error) {
	k, ok := s.active()
	if !ok {
		return nil, nil, "", ErrNoActiveKey
	}
	signedBytes, err = proto.MarshalOptions{Deterministic: true}.Marshal(order)
	if err != nil {
		return nil, nil, "", fmt.Errorf("signing: encode signed order: %w", err)
	}
	return signedBytes, ed25519.Sign(k.priv, signedBytes), k.id, nil
}

// active returns the newest cached key whose activation time has passed.
func (s *Signer) active() (privateKey, bool) {
	now := s.clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.cached) - 1; i >= 0; i-- {
		if !s.cached[i].activate.After(now) {
			return s.cached[i], true
		}
	}
	return privateKey{}, false
}
