package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// Channel is the PostgreSQL notification channel on which every change to
// the signing keys is announced, so that each replica's [Signer] reloads.
const Channel = "ferry_signing_keys"

// keyIDRandomBytes is how much randomness a key id carries: 6 bytes give
// the 10 base32 characters after "fk_". Installations hold a handful of keys,
// so collisions are out of reach.
const keyIDRandomBytes = 6

// keyIDPattern is the form of a key id.
var keyIDPattern = regexp.MustCompile(`^fk_[a-z2-7]{10}$`)

// ValidKeyID reports whether id has the form of a signing key id.
func ValidKeyID(id string) bool { return keyIDPattern.MatchString(id) }

var (
	// ErrNotFound reports that no signing key has the given id.
	ErrNotFound = errors.New("signing: no such signing key")
	// ErrActiveKey reports an attempt to retire the key that currently signs.
	ErrActiveKey = errors.New("signing: the key is the active signing key")
	// ErrNoKEK reports that the keyring has no key-encryption key, so it
	// cannot create or unseal keys.
	ErrNoKEK = errors.New("signing: no key-encryption key configured")
)

// State is what a key is used for at a given time.
type State int

const (
	// StatePending is a key whose activation time has not come.
	StatePending State = iota + 1
	// StateActive is the key that signs new orders.
	StateActive
	// StatePrevious is a key replaced by a newer one but not retired.
	StatePrevious
	// StateRetired is a retired key.
	StateRetired
)

// String returns the state's lower-case name.
func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateActive:
		return "active"
	case StatePrevious:
		return "previous"
	case StateRetired:
		return "retired"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Key is the public description of a signing key.
type Key struct {
	ID           string
	PublicKey    ed25519.PublicKey
	CreateTime   time.Time
	ActivateTime time.Time
	// RetireTime is nil while the key is in use.
	RetireTime *time.Time
	// State is the key's use at the time the key was read.
	State State
}

// Keyring creates, lists, rotates and retires signing keys in the database.
// It is safe for concurrent use, also by several processes on one database.
type Keyring struct {
	store *store.Store
	kek   *KEK
}

// NewKeyring returns a Keyring over st. kek may be nil: the keyring then
// lists and retires keys but cannot create or unseal them ([ErrNoKEK]).
func NewKeyring(st *store.Store, kek *KEK) *Keyring {
	return &Keyring{store: st, kek: kek}
}

// EnsureActive makes sure a key is active at now, creating one activated at
// now when none is, and reports whether it created it. Replicas calling it
// at once create a single key.
func (k *Keyring) EnsureActive(ctx context.Context, now time.Time) (key Key, created bool, err error) {
	err = k.store.Tx(ctx, func(q db.Querier) error {
		if err := q.SigningKeyLock(ctx); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		rows, err := q.SigningKeyListUsable(ctx)
		if err != nil {
			return fmt.Errorf("list signing keys: %w", err)
		}
		if i := activeIndex(rows, now); i >= 0 {
			key = toKey(rows[i], StateActive)
			return nil
		}
		key, err = k.insert(ctx, q, now, now)
		key.State = StateActive
		created = err == nil
		return err
	})
	if err != nil {
		return Key{}, false, fmt.Errorf("ensure an active signing key: %w", err)
	}
	return key, created, nil
}

// Rotate creates a key that becomes active at activateAt (now or later);
// among keys activated at the same time the one created last signs. The
// keys before it stay valid for verification until retired.
func (k *Keyring) Rotate(ctx context.Context, now, activateAt time.Time) (Key, error) {
	if activateAt.Before(now) {
		activateAt = now
	}
	var key Key
	err := k.store.Tx(ctx, func(q db.Querier) error {
		if err := q.SigningKeyLock(ctx); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		var err error
		key, err = k.insert(ctx, q, now, activateAt)
		return err
	})
	if err != nil {
		return Key{}, fmt.Errorf("rotate signing key: %w", err)
	}
	if !key.ActivateTime.After(now) {
		key.State = StateActive
	}
	return key, nil
}

// List returns the keys in activation order, retired ones only when
// includeRetired is set, each with its state at now.
func (k *Keyring) List(ctx context.Context, now time.Time, includeRetired bool) ([]Key, error) {
	rows, err := k.store.Q.SigningKeyList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	states := statesAt(rows, now)
	keys := make([]Key, 0, len(rows))
	for i, r := range rows {
		if states[i] == StateRetired && !includeRetired {
			continue
		}
		keys = append(keys, toKey(r, states[i]))
	}
	return keys, nil
}

// Retire retires the key named id at now. Retiring a retired key returns it
// unchanged. It returns an error wrapping [ErrNotFound] for an unknown id and
// [ErrActiveKey] for the key active at now.
func (k *Keyring) Retire(ctx context.Context, id string, now time.Time) (Key, error) {
	var key Key
	err := k.store.Tx(ctx, func(q db.Querier) error {
		if err := q.SigningKeyLock(ctx); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		rows, err := q.SigningKeyListUsable(ctx)
		if err != nil {
			return fmt.Errorf("list signing keys: %w", err)
		}
		if i := activeIndex(rows, now); i >= 0 && rows[i].ID == id {
			return fmt.Errorf("%w: %s signs new work orders; rotate first (ferry keys rotate), then retire it "+
				"once no order it signed is in flight", ErrActiveKey, id)
		}
		row, err := q.SigningKeyRetire(ctx, db.SigningKeyRetireParams{ID: id, Now: now})
		if store.IsNotFound(err) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("retire signing key %s: %w", id, err)
		}
		key = toKey(row, StateRetired)
		return notify(ctx, q, id)
	})
	if err != nil {
		return Key{}, err
	}
	return key, nil
}

// usable returns the keys not retired with their private keys unsealed.
func (k *Keyring) usable(ctx context.Context) ([]privateKey, error) {
	if k.kek == nil {
		return nil, ErrNoKEK
	}
	rows, err := k.store.Q.SigningKeyListUsable(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	keys := make([]privateKey, 0, len(rows))
	for _, r := range rows {
		seed, err := k.kek.open(r.ID, r.PrivateKeySealed)
		if err != nil {
			return nil, err
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("signing: private key of %s has %d bytes, want %d", r.ID, len(seed), ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(r.PublicKey)) {
			return nil, fmt.Errorf("signing: private key of %s does not match its public key", r.ID)
		}
		keys = append(keys, privateKey{id: r.ID, activate: r.ActivateTime, priv: priv})
	}
	return keys, nil
}

// insert creates a key; the caller holds the lock.
func (k *Keyring) insert(ctx context.Context, q db.Querier, now, activateAt time.Time) (Key, error) {
	if k.kek == nil {
		return Key{}, ErrNoKEK
	}
	id, err := newKeyID()
	if err != nil {
		return Key{}, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	sealed, err := k.kek.seal(id, priv.Seed())
	if err != nil {
		return Key{}, err
	}
	row, err := q.SigningKeyInsert(ctx, db.SigningKeyInsertParams{
		ID: id, PublicKey: pub, PrivateKeySealed: sealed, Now: now, ActivateTime: activateAt,
	})
	if err != nil {
		return Key{}, fmt.Errorf("insert signing key: %w", err)
	}
	if err := notify(ctx, q, id); err != nil {
		return Key{}, err
	}
	return toKey(row, StatePending), nil
}

func notify(ctx context.Context, q db.Querier, id string) error {
	if err := q.Notify(ctx, db.NotifyParams{Channel: Channel, Payload: id}); err != nil {
		return fmt.Errorf("notify %s: %w", Channel, err)
	}
	return nil
}

func newKeyID() (string, error) {
	b := make([]byte, keyIDRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate signing key id: %w", err)
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	return "fk_" + strings.ToLower(enc), nil
}

// activeIndex returns the index of the key active at now among rows, which
// are in activation order, or -1 when none is.
func activeIndex(rows []db.SigningKey, now time.Time) int {
	active := -1
	for i, r := range rows {
		if r.RetireTime == nil && !r.ActivateTime.After(now) {
			active = i
		}
	}
	return active
}

// statesAt returns the state at now of each of rows, which are in
// activation order.
func statesAt(rows []db.SigningKey, now time.Time) []State {
	active := activeIndex(rows, now)
	states := make([]State, len(rows))
	for i, r := range rows {
		switch {
		case r.RetireTime != nil:
			states[i] = StateRetired
		case i == active:
			states[i] = StateActive
		case r.ActivateTime.After(now):
			states[i] = StatePending
		default:
			states[i] = StatePrevious
		}
	}
	return states
}

func toKey(r db.SigningKey, s State) Key {
	return Key{
		ID: r.ID, PublicKey: ed25519.PublicKey(r.PublicKey), CreateTime: r.CreateTime,
		ActivateTime: r.ActivateTime, RetireTime: r.RetireTime, State: s,
	}
}
