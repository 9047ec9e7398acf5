package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	testAgent = "0f6e4c1a-2d3b-4a5c-8e9f-101112131415"
	testRun   = "5b0f7f4e-3c1a-4f7e-9d43-2f5a8c1e0b6d"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey is a signing key as the control plane holds it.
type testKey struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newTestKey(t *testing.T, id string) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{id: id, pub: pub, priv: priv}
}

func newVerifier(t *testing.T, cfg Config, keys ...testKey) *Verifier {
	t.Helper()
	m := make(map[string]ed25519.PublicKey)
	for _, k := range keys {
		m[k.id] = k.pub
	}
	v, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func signedContent(token int64, issue time.Time) *ferryv1.SignedOrder {
	return &ferryv1.SignedOrder{
		RunId: testRun, Attempt: 1, LeaseToken: token,
		ExpireTime: timestamppb.New(issue.Add(10 * time.Second)),
		Job:        &ferryv1.JobSpec{Command: []string{"true"}, PoolType: "process", Env: map[string]string{"A": "1"}},
		AgentId:    testAgent,
		IssueTime:  timestamppb.New(issue),
	}
}

// sign builds a work order the way the dispatcher does: clear fields plus
// the signed content.
func sign(t *testing.T, k testKey, s *ferryv1.SignedOrder) *ferryv1.WorkOrder {
	t.Helper()
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return &ferryv1.WorkOrder{
		RunId: s.GetRunId(), Attempt: s.GetAttempt(), LeaseToken: s.GetLeaseToken(),
		OfferExpireTime: s.GetExpireTime(), Job: s.GetJob(),
		SignedOrder: body, Signature: ed25519.Sign(k.priv, body), KeyId: k.id,
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	v := newVerifier(t, Config{}, k)
	want := signedContent(7, testNow)
	got, err := v.Verify(sign(t, k, want), testAgent, testNow.Add(time.Second))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("signed order (-want +got):\n%s", diff)
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	trusted := newTestKey(t, "fk_aaaaaaaaaa")
	stranger := newTestKey(t, "fk_bbbbbbbbbb")
	tests := []struct {
		name  string
		order func(t *testing.T) *ferryv1.WorkOrder
		agent string
		now   time.Time
		want  error
		// msg are parts the message must contain.
		msg []string
	}{
		{
			name: "no signature",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, trusted, signedContent(1, testNow))
				o.Signature = nil
				return o
			},
			want: ErrUnsigned, msg: []string{"not signed", testRun},
		},
		{
			name: "clear fields only",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				return &ferryv1.WorkOrder{RunId: testRun, Attempt: 1, LeaseToken: 1}
			},
			want: ErrUnsigned,
		},
		{
			name: "no key id",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, trusted, signedContent(1, testNow))
				o.KeyId = ""
				return o
			},
			want: ErrUnsigned,
		},
		{
			name: "unknown key",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				return sign(t, stranger, signedContent(1, testNow))
			},
			want: ErrUnknownKey,
			msg:  []string{"fk_bbbbbbbbbb", "does not trust", "ferry keys ls --output agent", "/etc/ferry/trusted-keys"},
		},
		{
			name: "forged with another key under a trusted id",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, stranger, signedContent(1, testNow))
				o.KeyId = trusted.id
				return o
			},
			want: ErrBadSignature, msg: []string{"altered or forged"},
		},
		{
			name: "one byte of the signed order altered",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, trusted, signedContent(1, testNow))
				o.SignedOrder[len(o.SignedOrder)/3] ^= 0x01
				return o
			},
			want: ErrBadSignature,
		},
		{
			name: "truncated signature",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, trusted, signedContent(1, testNow))
				o.Signature = o.Signature[:32]
				return o
			},
			want: ErrBadSignature,
		},
		{
			name: "clear lease token differs",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				o := sign(t, trusted, signedContent(1, testNow))
				o.LeaseToken = 99
				return o
			},
			want: ErrBadSignature, msg: []string{"clear fields"},
		},
		{
			name: "signed content is not a SignedOrder",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				body := []byte{0xff, 0xff, 0xff}
				return &ferryv1.WorkOrder{RunId: testRun, SignedOrder: body, Signature: ed25519.Sign(trusted.priv, body), KeyId: trusted.id}
			},
			want: ErrBadSignature, msg: []string{"does not decode"},
		},
		{
			name: "issued to another agent",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				return sign(t, trusted, signedContent(1, testNow))
			},
			agent: "11111111-2222-4333-8444-555555555555",
			want:  ErrWrongAgent, msg: []string{"issued to agent", testAgent},
		},
		{
			name: "expired beyond the skew",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				return sign(t, trusted, signedContent(1, testNow))
			},
			now:  testNow.Add(10*time.Second + DefaultClockSkew + time.Millisecond),
			want: ErrExpired, msg: []string{"expired at", "clock"},
		},
		{
			name: "issued beyond the skew in the future",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				return sign(t, trusted, signedContent(1, testNow.Add(DefaultClockSkew+time.Second)))
			},
			want: ErrExpired, msg: []string{"synchronise"},
		},
		{
			name: "no expiry",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				s := signedContent(1, testNow)
				s.ExpireTime = nil
				return sign(t, trusted, s)
			},
			want: ErrExpired, msg: []string{"never expires"},
		},
		{
			name: "no issue time",
			order: func(t *testing.T) *ferryv1.WorkOrder {
				s := signedContent(1, testNow)
				s.IssueTime = nil
				return sign(t, trusted, s)
			},
			want: ErrExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, Config{KeysSource: "/etc/ferry/trusted-keys"}, trusted)
			agent, now := tt.agent, tt.now
			if agent == "" {
				agent = testAgent
			}
			if now.IsZero() {
				now = testNow
			}
			got, err := v.Verify(tt.order(t), agent, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tt.want)
			}
			for _, part := range tt.msg {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("message %q lacks %q", err, part)
				}
			}
			if len(v.seen) != 0 {
				t.Errorf("a refused order entered the replay cache")
			}
		})
	}
}

// TestVerifyEveryAlteredByte flips each byte of the signed content in turn.
func TestVerifyEveryAlteredByte(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	v := newVerifier(t, Config{}, k)
	o := sign(t, k, signedContent(1, testNow))
	for i := range o.SignedOrder {
		altered := proto.Clone(o).(*ferryv1.WorkOrder)
		altered.SignedOrder[i] ^= 0x80
		if _, err := v.Verify(altered, testAgent, testNow); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("byte %d altered: got %v, want ErrBadSignature", i, err)
		}
	}
}

func TestVerifyWithinSkew(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	v := newVerifier(t, Config{ClockSkew: 5 * time.Second}, k)
	late := sign(t, k, signedContent(1, testNow))
	if _, err := v.Verify(late, testAgent, testNow.Add(14*time.Second)); err != nil {
		t.Errorf("order 4s past expiry with 5s skew: %v", err)
	}
	early := sign(t, k, signedContent(2, testNow.Add(4*time.Second)))
	if _, err := v.Verify(early, testAgent, testNow); err != nil {
		t.Errorf("order issued 4s ahead with 5s skew: %v", err)
	}
}

func TestVerifyReplay(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	v := newVerifier(t, Config{}, k)
	first := sign(t, k, signedContent(5, testNow))
	if _, err := v.Verify(first, testAgent, testNow); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(first, testAgent, testNow.Add(time.Second))
	if !errors.Is(err, ErrReplayed) || !strings.Contains(err.Error(), "already received") {
		t.Fatalf("same order again: got %v, want ErrReplayed", err)
	}
	older := sign(t, k, signedContent(4, testNow.Add(time.Second)))
	_, err = v.Verify(older, testAgent, testNow.Add(time.Second))
	if !errors.Is(err, ErrReplayed) || !strings.Contains(err.Error(), "older than lease token 5") {
		t.Fatalf("lower lease token: got %v, want ErrReplayed", err)
	}
	newer := sign(t, k, signedContent(6, testNow.Add(2*time.Second)))
	if _, err := v.Verify(newer, testAgent, testNow.Add(2*time.Second)); err != nil {
		t.Fatalf("higher lease token: %v", err)
	}
	otherAttempt := signedContent(1, testNow.Add(2*time.Second))
	otherAttempt.Attempt = 2
	if _, err := v.Verify(sign(t, k, otherAttempt), testAgent, testNow.Add(2*time.Second)); err != nil {
		t.Fatalf("next attempt: %v", err)
	}

	// Entries are forgotten once their orders can no longer be accepted.
	after := testNow.Add(time.Hour)
	if _, err := v.Verify(sign(t, k, signedContent(1, after)), testAgent, after); err == nil {
		// Attempt 1's entry expired, so a fresh order with token 1 is new.
		if n := len(v.seen); n != 1 {
			t.Errorf("replay cache holds %d entries after expiry, want 1", n)
		}
	} else {
		t.Fatalf("order after the old entries expired: %v", err)
	}
}

func TestVerifyCacheBound(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	v := newVerifier(t, Config{MaxReplayEntries: 2}, k)
	order := func(attempt int32, issue time.Time) *ferryv1.WorkOrder {
		s := signedContent(1, issue)
		s.Attempt = attempt
		return sign(t, k, s)
	}
	for a := int32(1); a <= 2; a++ {
		if _, err := v.Verify(order(a, testNow), testAgent, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(order(3, testNow), testAgent, testNow); !errors.Is(err, ErrCacheFull) {
		t.Fatalf("third order in a cache of 2: got %v, want ErrCacheFull", err)
	}
	// A replay is still refused as such when the cache is full.
	if _, err := v.Verify(order(1, testNow), testAgent, testNow); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay with a full cache: got %v, want ErrReplayed", err)
	}
	later := testNow.Add(time.Minute)
	if _, err := v.Verify(order(3, later), testAgent, later); err != nil {
		t.Fatalf("after the cached orders expired: %v", err)
	}
}

// TestVerifyRotation checks that an agent trusting the old and the new key
// accepts orders signed with either, and refuses the old key once dropped.
func TestVerifyRotation(t *testing.T) {
	t.Parallel()
	old := newTestKey(t, "fk_oldoldoldo")
	next := newTestKey(t, "fk_newnewnewn")
	v := newVerifier(t, Config{}, old, next)
	if diff := cmp.Diff([]string{"fk_newnewnewn", "fk_oldoldoldo"}, v.KeyIDs()); diff != "" {
		t.Errorf("key ids (-want +got):\n%s", diff)
	}
	if _, err := v.Verify(sign(t, old, signedContent(1, testNow)), testAgent, testNow); err != nil {
		t.Errorf("order signed with the old key: %v", err)
	}
	if _, err := v.Verify(sign(t, next, signedContent(2, testNow)), testAgent, testNow); err != nil {
		t.Errorf("order signed with the new key: %v", err)
	}
	if err := v.SetKeys(map[string]ed25519.PublicKey{next.id: next.pub}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, old, signedContent(3, testNow)), testAgent, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old key after it was dropped: got %v, want ErrUnknownKey", err)
	}
	if err := v.SetKeys(nil); err == nil {
		t.Error("SetKeys(nil) succeeded")
	}
	if err := v.SetKeys(map[string]ed25519.PublicKey{"k": ed25519.PublicKey(bytes.Repeat([]byte{1}, 31))}); err == nil {
		t.Error("SetKeys with a 31-byte key succeeded")
	}
}
