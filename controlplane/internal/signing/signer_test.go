package signing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// testBundle is what setup returns besides the signer.
type testBundle struct {
	store *store.Store
	clock *clock.Fake
	kek   *KEK
	keys  *Keyring
}

var testStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testKEK(t *testing.T, b byte) *KEK {
	t.Helper()
	kek, err := NewKEK(bytes.Repeat([]byte{b}, KEKSize), "test-kek")
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// setup returns a started signer on a fresh database.
func setup(t *testing.T) (*Signer, testBundle) {
	t.Helper()
	b := testBundle{store: store.New(dbtest.Pool(t)), clock: clock.NewFake(testStart), kek: testKEK(t, 1)}
	b.keys = NewKeyring(b.store, b.kek)
	s := NewSigner(b.keys, b.clock, discardLog())
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start signer: %v", err)
	}
	return s, b
}

func testOrder(now time.Time) *ferryv1.SignedOrder {
	return &ferryv1.SignedOrder{
		RunId: "5b0f7f4e-3c1a-4f7e-9d43-2f5a8c1e0b6d", Attempt: 2, LeaseToken: 41,
		ExpireTime: timestamppb.New(now.Add(10 * time.Second)),
		Job: &ferryv1.JobSpec{
			Command: []string{"echo", "hi"}, Env: map[string]string{"B": "2", "A": "1", "C": "3"},
			Parameters: `{"n":1}`, Timeout: durationpb.New(time.Minute), PoolType: "process",
		},
		AgentId:   "0f6e4c1a-2d3b-4a5c-8e9f-101112131415",
		IssueTime: timestamppb.New(now),
	}
}

// publicKey returns the listed public key of id.
func publicKey(t *testing.T, b testBundle, id string) ed25519.PublicKey {
	t.Helper()
	keys, err := b.keys.List(context.Background(), b.clock.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k.PublicKey
		}
	}
	t.Fatalf("key %s not listed", id)
	return nil
}

func TestSignRoundTrip(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	order := testOrder(b.clock.Now())
	body, sig, keyID, err := s.Sign(order)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ValidKeyID(keyID) {
		t.Errorf("key id %q does not have the fk_ form", keyID)
	}
	if !ed25519.Verify(publicKey(t, b, keyID), body, sig) {
		t.Fatal("signature does not verify with the listed public key")
	}
	got := new(ferryv1.SignedOrder)
	if err := proto.Unmarshal(body, got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(order, got, protocmp.Transform()); diff != "" {
		t.Errorf("signed bytes decode to another order (-want +got):\n%s", diff)
	}
	// Deterministic encoding: the map is always written in the same order.
	for range 20 {
		again, _, _, err := s.Sign(testOrder(b.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, body) {
			t.Fatal("the same order encoded to different bytes")
		}
	}
	altered := bytes.Clone(body)
	altered[len(altered)/2] ^= 1
	if ed25519.Verify(publicKey(t, b, keyID), altered, sig) {
		t.Error("signature verifies over altered bytes")
	}
}

func TestSignBeforeStart(t *testing.T) {
	t.Parallel()
	b := testBundle{store: store.New(dbtest.Pool(t)), clock: clock.NewFake(testStart), kek: testKEK(t, 1)}
	s := NewSigner(NewKeyring(b.store, b.kek), b.clock, discardLog())
	if _, _, _, err := s.Sign(testOrder(testStart)); !errors.Is(err, ErrNoActiveKey) {
		t.Fatalf("got %v, want ErrNoActiveKey", err)
	}
}

func TestStartKeepsExistingKey(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	first := s.ActiveKeyID()
	again := NewSigner(NewKeyring(b.store, b.kek), b.clock, discardLog())
	if err := again.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := again.ActiveKeyID(); got != first {
		t.Errorf("second start uses key %s, want the existing %s", got, first)
	}
	keys, err := b.keys.List(context.Background(), b.clock.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("%d keys after two starts, want 1", len(keys))
	}
}

func TestStartWithWrongKEK(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	wrong, err := NewKEK(bytes.Repeat([]byte{9}, KEKSize), "/var/lib/ferry/signing-kek")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(NewKeyring(b.store, wrong), b.clock, discardLog())
	err = s.Start(context.Background())
	if !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("got %v, want ErrWrongKEK", err)
	}
	for _, part := range []string{"/var/lib/ferry/signing-kek", "--signing-kek-file", "does not open"} {
		if !bytes.Contains([]byte(err.Error()), []byte(part)) {
			t.Errorf("message %q lacks %q", err, part)
		}
	}
}

func TestStartWithoutKEK(t *testing.T) {
	t.Parallel()
	b := testBundle{store: store.New(dbtest.Pool(t)), clock: clock.NewFake(testStart)}
	s := NewSigner(NewKeyring(b.store, nil), b.clock, discardLog())
	if err := s.Start(context.Background()); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("got %v, want ErrNoKEK", err)
	}
}

// TestConcurrentFirstStart starts several replicas on one empty database at
// once: exactly one key is created and all of them sign with it.
func TestConcurrentFirstStart(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	fake := clock.NewFake(testStart)
	kek := testKEK(t, 3)
	const replicas = 8
	signers := make([]*Signer, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		signers[i] = NewSigner(NewKeyring(store.New(pool), kek), fake, discardLog())
		wg.Go(func() {
			<-start
			errs[i] = signers[i].Start(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	keys, err := NewKeyring(store.New(pool), kek).List(context.Background(), fake.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].State != StateActive {
		t.Fatalf("got keys %+v, want one active key", keys)
	}
	for i, s := range signers {
		if got := s.ActiveKeyID(); got != keys[0].ID {
			t.Errorf("replica %d signs with %q, want %s", i, got, keys[0].ID)
		}
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	old := s.ActiveKeyID()
	oldBody, oldSig, _, err := s.Sign(testOrder(b.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}

	b.clock.Advance(time.Second)
	rotated, err := b.keys.Rotate(ctx, b.clock.Now(), b.clock.Now())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if rotated.State != StateActive || rotated.ID == old {
		t.Fatalf("rotated key %+v, want a new active key", rotated)
	}
	if got := s.ActiveKeyID(); got != old {
		t.Errorf("before a refresh the signer uses %s, want the cached %s", got, old)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	body, sig, keyID, err := s.Sign(testOrder(b.clock.Now()))
	if err != nil || keyID != rotated.ID {
		t.Fatalf("after rotation Sign used %q (%v), want %s", keyID, err, rotated.ID)
	}
	if !ed25519.Verify(publicKey(t, b, rotated.ID), body, sig) {
		t.Error("new order does not verify with the new key")
	}
	if !ed25519.Verify(publicKey(t, b, old), oldBody, oldSig) {
		t.Error("old order no longer verifies with the old key")
	}
	wantStates(t, b, map[string]State{old: StatePrevious, rotated.ID: StateActive})
}

func TestRotateWithDelay(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	old := s.ActiveKeyID()
	pending, err := b.keys.Rotate(ctx, b.clock.Now(), b.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if pending.State != StatePending {
		t.Fatalf("state %v, want pending", pending.State)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	wantStates(t, b, map[string]State{old: StateActive, pending.ID: StatePending})
	if got := s.ActiveKeyID(); got != old {
		t.Errorf("before activation the signer uses %s, want %s", got, old)
	}
	if _, err := b.keys.Retire(ctx, pending.ID, b.clock.Now()); err != nil {
		t.Errorf("retiring a pending key: %v", err)
	}
	again, err := b.keys.Rotate(ctx, b.clock.Now(), b.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// The signer switches at activation time without another reload.
	b.clock.Advance(time.Hour)
	if got := s.ActiveKeyID(); got != again.ID {
		t.Errorf("after activation the signer uses %s, want %s", got, again.ID)
	}
	wantStates(t, b, map[string]State{old: StatePrevious, pending.ID: StateRetired, again.ID: StateActive})
}

func TestRetire(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	old := s.ActiveKeyID()

	_, err := b.keys.Retire(ctx, old, b.clock.Now())
	if !errors.Is(err, ErrActiveKey) || !bytes.Contains([]byte(err.Error()), []byte("ferry keys rotate")) {
		t.Fatalf("retiring the active key: got %v, want ErrActiveKey telling to rotate", err)
	}
	if _, err := b.keys.Retire(ctx, "fk_zzzzzzzzzz", b.clock.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retiring an unknown key: got %v, want ErrNotFound", err)
	}

	rotated, err := b.keys.Rotate(ctx, b.clock.Now(), b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute)
	retired, err := b.keys.Retire(ctx, old, b.clock.Now())
	if err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if retired.State != StateRetired || retired.RetireTime == nil || !retired.RetireTime.Equal(b.clock.Now()) {
		t.Fatalf("retired key %+v, want retired now", retired)
	}
	b.clock.Advance(time.Minute)
	twice, err := b.keys.Retire(ctx, old, b.clock.Now())
	if err != nil || !twice.RetireTime.Equal(*retired.RetireTime) {
		t.Errorf("retiring again: %+v, %v; want the first retire time kept", twice, err)
	}

	listed, err := b.keys.List(ctx, b.clock.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].ID != rotated.ID {
		t.Errorf("list without retired keys: %+v, want only %s", listed, rotated.ID)
	}
	wantStates(t, b, map[string]State{old: StateRetired, rotated.ID: StateActive})

	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, keyID, err := s.Sign(testOrder(b.clock.Now())); err != nil || keyID != rotated.ID {
		t.Errorf("after retirement Sign used %q (%v), want %s", keyID, err, rotated.ID)
	}
}

// TestRunReloadsWhenPoked checks that a rotation made through another
// replica's keyring reaches a running signer on Poke.
func TestRunReloadsWhenPoked(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	s.RefreshInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	other := NewKeyring(store.New(b.store.Pool), b.kek)
	rotated, err := other.Rotate(ctx, b.clock.Now(), b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.Poke()
	deadline := time.Now().Add(10 * time.Second)
	for s.ActiveKeyID() != rotated.ID {
		if time.Now().After(deadline) {
			t.Fatalf("signer still uses %s 10s after the poke, want %s", s.ActiveKeyID(), rotated.ID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantStates(t *testing.T, b testBundle, want map[string]State) {
	t.Helper()
	keys, err := b.keys.List(context.Background(), b.clock.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]State, len(keys))
	for _, k := range keys {
		got[k.ID] = k.State
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key states (-want +got):\n%s", diff)
	}
}
