package verify

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Reasons an order is refused. [Verifier.Verify] returns errors that match
// one of them with errors.Is and whose text says what to do.
var (
	// ErrUnsigned: the order carries no signature, key id or signed content.
	ErrUnsigned = errors.New("work order is not signed")
	// ErrUnknownKey: the order is signed with a key the agent does not trust.
	ErrUnknownKey = errors.New("work order signed with an untrusted key")
	// ErrBadSignature: the signature does not match the signed content, the
	// content does not decode, or the clear fields contradict it.
	ErrBadSignature = errors.New("work order signature is invalid")
	// ErrWrongAgent: the order was issued to another agent.
	ErrWrongAgent = errors.New("work order issued to another agent")
	// ErrExpired: the order's validity has ended, it has no expiry, or it
	// was issued in the future.
	ErrExpired = errors.New("work order expired")
	// ErrReplayed: the same or an older lease of the run attempt was
	// already received.
	ErrReplayed = errors.New("work order replayed")
	// ErrCacheFull: the replay cache holds MaxReplayEntries orders still
	// valid, so a new order could not be remembered.
	ErrCacheFull = errors.New("work order replay cache full")
)

const (
	// DefaultClockSkew is how far apart the agent's and control plane's
	// clocks may be by default: generous for hosts that synchronise with
	// NTP, small next to the time a run takes.
	DefaultClockSkew = 30 * time.Second
	// DefaultMaxReplayEntries bounds the replay cache by default. An entry
	// lives only as long as its order is valid (seconds), so this is far
	// more than an agent receives in that time.
	DefaultMaxReplayEntries = 100_000
)

// Config tunes a [Verifier]. The zero value takes the defaults.
type Config struct {
	// ClockSkew is the allowance for clock differences: an order is valid
	// until its expire_time plus ClockSkew, and may be issued up to
	// ClockSkew in the agent's future. Default [DefaultClockSkew].
	ClockSkew time.Duration
	// MaxReplayEntries caps how many run attempts the replay cache
	// remembers. Default [DefaultMaxReplayEntries].
	MaxReplayEntries int
	// KeysSource names where the trusted keys came from, such as the
	// trusted-keys file's path, in error messages. Optional.
	KeysSource string
}

// attemptKey names one attempt of a run in the replay cache.
type attemptKey struct {
	runID   string
	attempt int32
}

// seenLease is the highest lease token received for an attempt and how
// long it must be remembered.
type seenLease struct {
	token int64
	until time.Time
}

// Verifier checks work orders against trusted public keys and remembers
// the orders it accepted until they expire, to refuse replays. It is safe
// for concurrent use.
type Verifier struct {
	cfg Config

	mu   sync.Mutex
	keys map[string]ed25519.PublicKey
	seen map[attemptKey]seenLease
	// nextPrune is when expired cache entries are next swept.
	nextPrune time.Time
}

// New returns a Verifier trusting keys (key id to public key). It fails
// when keys is empty or holds a key that is not an Ed25519 public key.
func New(keys map[string]ed25519.PublicKey, cfg Config) (*Verifier, error) {
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.MaxReplayEntries <= 0 {
		cfg.MaxReplayEntries = DefaultMaxReplayEntries
	}
	v := &Verifier{cfg: cfg, seen: make(map[attemptKey]seenLease)}
	if err := v.SetKeys(keys); err != nil {
		return nil, err
	}
	return v, nil
}

// SetKeys replaces the trusted keys, as after the trusted-keys file was
// edited; the replay cache is kept. It fails, keeping the old keys, when
// keys is empty or holds a key of the wrong size.
func (v *Verifier) SetKeys(keys map[string]ed25519.PublicKey) error {
	if len(keys) == 0 {
		return errors.New("verify: no trusted key")
	}
	for id, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("verify: public key of %s has %d bytes, want %d", id, len(k), ed25519.PublicKeySize)
		}
	}
	keys = maps.Clone(keys)
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	return nil
}

// KeyIDs returns the ids of the trusted keys, sorted.
func (v *Verifier) KeyIDs() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Sorted(maps.Keys(v.keys))
}

// refusal is an error matching one of the Err sentinels, with a message
// for a person.
type refusal struct {
	reason error
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func (r *refusal) Unwrap() error { return r.reason }

func refuse(reason error, format string, args ...any) error {
	return &refusal{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// Verify checks order for the agent agentID at time now and returns its
// signed content, the only part the agent may act on. On success the order
// is remembered until it expires, so that a second delivery is refused.
//
// The error matches, with errors.Is, one of [ErrUnsigned], [ErrUnknownKey],
// [ErrBadSignature], [ErrWrongAgent], [ErrExpired], [ErrReplayed] or
// [ErrCacheFull].
func (v *Verifier) Verify(order *ferryv1.WorkOrder, agentID string, now time.Time) (*ferryv1.SignedOrder, error) {
	run := fmt.Sprintf("%.64q", order.GetRunId())
	if len(order.GetSignedOrder()) == 0 || len(order.GetSignature()) == 0 || order.GetKeyId() == "" {
		return nil, refuse(ErrUnsigned, "work order for run %s is not signed; this agent acts only on orders "+
			"signed by the control plane (is the control plane older than this agent?)", run)
	}
	keyID := order.GetKeyId()
	v.mu.Lock()
	pub, ok := v.keys[keyID]
	v.mu.Unlock()
	if !ok {
		return nil, refuse(ErrUnknownKey, "work order for run %s is signed with key %.64q, which this agent does "+
			"not trust: add it to the agent's trusted keys%s with 'ferry keys ls --output agent'", run, keyID, v.source())
	}
	if !ed25519.Verify(pub, order.GetSignedOrder(), order.GetSignature()) {
		return nil, refuse(ErrBadSignature, "work order for run %s does not match its signature by key %s: "+
			"it was altered or forged on its way from the control plane", run, keyID)
	}
	signed := new(ferryv1.SignedOrder)
	if err := proto.Unmarshal(order.GetSignedOrder(), signed); err != nil {
		return nil, refuse(ErrBadSignature, "work order for run %s: signed content does not decode: %v", run, err)
	}
	run = fmt.Sprintf("%.64q", signed.GetRunId())

	if signed.GetAgentId() != agentID {
		return nil, refuse(ErrWrongAgent, "work order for run %s was issued to agent %.64q, not to this agent (%s)",
			run, signed.GetAgentId(), agentID)
	}
	if err := v.checkTimes(signed, run, now); err != nil {
		return nil, err
	}
	if signed.GetRunId() != order.GetRunId() || signed.GetAttempt() != order.GetAttempt() ||
		signed.GetLeaseToken() != order.GetLeaseToken() {
		return nil, refuse(ErrBadSignature, "work order for run %s: its clear fields (run %.64q, attempt %d, "+
			"lease token %d) differ from its signed content (attempt %d, lease token %d): it was altered on its way",
			run, order.GetRunId(), order.GetAttempt(), order.GetLeaseToken(), signed.GetAttempt(), signed.GetLeaseToken())
	}
	if err := v.remember(signed, run, now); err != nil {
		return nil, err
	}
	return signed, nil
}

func (v *Verifier) checkTimes(signed *ferryv1.SignedOrder, run string, now time.Time) error {
	skew := v.cfg.ClockSkew
	if signed.GetExpireTime() == nil {
		return refuse(ErrExpired, "work order for run %s has no expiry time; refusing an order that never expires", run)
	}
	if signed.GetIssueTime() == nil {
		return refuse(ErrExpired, "work order for run %s has no issue time", run)
	}
	expire := signed.GetExpireTime().AsTime()
	if now.After(expire.Add(skew)) {
		return refuse(ErrExpired, "work order for run %s expired at %s, and it is %s here (clock skew allowed: %s); "+
			"if this repeats, check that this host's clock is synchronised", run,
			expire.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), skew)
	}
	issue := signed.GetIssueTime().AsTime()
	if issue.After(now.Add(skew)) {
		return refuse(ErrExpired, "work order for run %s was issued at %s, later than the time here (%s) plus the "+
			"allowed clock skew (%s): synchronise this host's clock with the control plane's", run,
			issue.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), skew)
	}
	return nil
}

// remember records the order's lease in the replay cache, refusing a lease
// token not higher than one already received for the same attempt.
func (v *Verifier) remember(signed *ferryv1.SignedOrder, run string, now time.Time) error {
	key := attemptKey{runID: signed.GetRunId(), attempt: signed.GetAttempt()}
	token := signed.GetLeaseToken()
	until := signed.GetExpireTime().AsTime().Add(v.cfg.ClockSkew)

	v.mu.Lock()
	defer v.mu.Unlock()
	if !now.Before(v.nextPrune) {
		v.prune(now)
	}
	prev, seen := v.seen[key]
	if seen && now.Before(prev.until) && token <= prev.token {
		what := "was already received"
		if token < prev.token {
			what = fmt.Sprintf("is older than lease token %d already received", prev.token)
		}
		return refuse(ErrReplayed, "work order for run %s, attempt %d, lease token %d %s; a replayed or stale "+
			"order is ignored", run, signed.GetAttempt(), token, what)
	}
	if !seen && len(v.seen) >= v.cfg.MaxReplayEntries {
		v.prune(now)
		if len(v.seen) >= v.cfg.MaxReplayEntries {
			return refuse(ErrCacheFull, "work order for run %s refused: this agent remembers %d orders still "+
				"valid, its limit; it accepts new orders as those expire", run, len(v.seen))
		}
	}
	v.seen[key] = seenLease{token: token, until: until}
	return nil
}

// prune forgets the leases whose orders have expired; v.mu is held.
func (v *Verifier) prune(now time.Time) {
	for k, s := range v.seen {
		if !now.Before(s.until) {
			delete(v.seen, k)
		}
	}
	v.nextPrune = now.Add(v.cfg.ClockSkew)
}

func (v *Verifier) source() string {
	if v.cfg.KeysSource == "" {
		return ""
	}
	return " (" + v.cfg.KeysSource + ")"
}
