package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/signing"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// signingTestRoleHeader carries the role of a test request's API key.
const signingTestRoleHeader = "Ferry-Test-Role"

// signingTestEnv serves the signing key service over real HTTP.
type signingTestEnv struct {
	clock   *clock.Fake
	signer  *signing.Signer
	admin   ferryv1connect.SigningKeyServiceClient
	viewer  ferryv1connect.SigningKeyServiceClient
	changes atomic.Int32
}

func setupSigningEnv(t *testing.T, kek *signing.KEK) *signingTestEnv {
	t.Helper()
	st := store.New(dbtest.Pool(t))
	e := &signingTestEnv{clock: clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys := signing.NewKeyring(st, kek)
	if kek != nil {
		e.signer = signing.NewSigner(keys, e.clock, log)
		if err := e.signer.Start(context.Background()); err != nil {
			t.Fatalf("start signer: %v", err)
		}
	}
	principal := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			return next(auth.WithPrincipal(ctx, auth.Principal{
				Kind: auth.KindAPIKey, WorkspaceID: uuid.New(), Subject: "apikey:tester",
				Role: req.Header().Get(signingTestRoleHeader),
			}), req)
		}
	})
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewSigningKeyServiceHandler(&SigningKeyServer{
		Keys: keys, Clock: e.clock, Log: log, OnChange: func() { e.changes.Add(1) },
	}, connect.WithInterceptors(principal, validate.Interceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := func(role string) ferryv1connect.SigningKeyServiceClient {
		return ferryv1connect.NewSigningKeyServiceClient(srv.Client(), srv.URL,
			connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set(signingTestRoleHeader, role)
					return next(ctx, req)
				}
			})))
	}
	e.admin, e.viewer = client("admin"), client("viewer")
	return e
}

func testSigningKEK(t *testing.T) *signing.KEK {
	t.Helper()
	kek, err := signing.NewKEK(bytes.Repeat([]byte{5}, signing.KEKSize), "test")
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// listStates returns each listed key's state by id.
func (e *signingTestEnv) listStates(t *testing.T, includeRetired bool) map[string]ferryv1.SigningKeyState {
	t.Helper()
	resp, err := e.viewer.ListSigningKeys(context.Background(), connect.NewRequest(&ferryv1.ListSigningKeysRequest{
		IncludeRetired: includeRetired,
	}))
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	out := make(map[string]ferryv1.SigningKeyState)
	for _, k := range resp.Msg.GetKeys() {
		if len(k.GetPublicKey()) != ed25519.PublicKeySize {
			t.Errorf("key %s has a %d-byte public key", k.GetId(), len(k.GetPublicKey()))
		}
		out[k.GetId()] = k.GetState()
	}
	return out
}

func TestSigningKeyRotateListRetire(t *testing.T) {
	t.Parallel()
	e := setupSigningEnv(t, testSigningKEK(t))
	ctx := context.Background()
	first := e.signer.ActiveKeyID()
	if diff := cmp.Diff(map[string]ferryv1.SigningKeyState{first: ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE},
		e.listStates(t, false)); diff != "" {
		t.Errorf("keys after start (-want +got):\n%s", diff)
	}

	rotated, err := e.admin.RotateSigningKey(ctx, connect.NewRequest(&ferryv1.RotateSigningKeyRequest{}))
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	next := rotated.Msg.GetKey()
	if next.GetState() != ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE || !signing.ValidKeyID(next.GetId()) {
		t.Fatalf("rotated key %v, want a new active key", next)
	}
	if n := e.changes.Load(); n != 1 {
		t.Errorf("OnChange called %d times, want 1", n)
	}

	pending, err := e.admin.RotateSigningKey(ctx, connect.NewRequest(&ferryv1.RotateSigningKeyRequest{
		ActivateDelay: durationpb.New(time.Hour),
	}))
	if err != nil {
		t.Fatalf("RotateSigningKey with delay: %v", err)
	}
	if got := pending.Msg.GetKey().GetActivateTime().AsTime(); !got.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("activate time %v, want an hour from now", got)
	}
	if diff := cmp.Diff(map[string]ferryv1.SigningKeyState{
		first:                        ferryv1.SigningKeyState_SIGNING_KEY_STATE_PREVIOUS,
		next.GetId():                 ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE,
		pending.Msg.GetKey().GetId(): ferryv1.SigningKeyState_SIGNING_KEY_STATE_PENDING,
	}, e.listStates(t, false)); diff != "" {
		t.Errorf("keys after rotations (-want +got):\n%s", diff)
	}

	retired, err := e.admin.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{Id: first}))
	if err != nil {
		t.Fatalf("RetireSigningKey: %v", err)
	}
	if retired.Msg.GetKey().GetRetireTime() == nil {
		t.Error("retired key has no retire time")
	}
	if _, ok := e.listStates(t, false)[first]; ok {
		t.Error("retired key listed without include_retired")
	}
	if got := e.listStates(t, true)[first]; got != ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED {
		t.Errorf("retired key's state %v", got)
	}
}

func TestSigningKeyRejections(t *testing.T) {
	t.Parallel()
	e := setupSigningEnv(t, testSigningKEK(t))
	ctx := context.Background()
	active := e.signer.ActiveKeyID()
	tests := []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{
			name: "rotate without admin role",
			call: func() error {
				_, err := e.viewer.RotateSigningKey(ctx, connect.NewRequest(&ferryv1.RotateSigningKeyRequest{}))
				return err
			},
			code: connect.CodePermissionDenied, msg: "admin",
		},
		{
			name: "retire without admin role",
			call: func() error {
				_, err := e.viewer.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{Id: active}))
				return err
			},
			code: connect.CodePermissionDenied, msg: "admin",
		},
		{
			name: "retire the active key",
			call: func() error {
				_, err := e.admin.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{Id: active}))
				return err
			},
			code: connect.CodeFailedPrecondition, msg: "rotate first",
		},
		{
			name: "retire an unknown key",
			call: func() error {
				_, err := e.admin.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{Id: "fk_zzzzzzzzzz"}))
				return err
			},
			code: connect.CodeNotFound, msg: "fk_zzzzzzzzzz",
		},
		{
			name: "retire without id",
			call: func() error {
				_, err := e.admin.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{}))
				return err
			},
			code: connect.CodeInvalidArgument, msg: "id",
		},
		{
			name: "retire a malformed id",
			call: func() error {
				_, err := e.admin.RetireSigningKey(ctx, connect.NewRequest(&ferryv1.RetireSigningKeyRequest{Id: "key-1"}))
				return err
			},
			code: connect.CodeInvalidArgument, msg: "not a signing key id",
		},
		{
			name: "negative activation delay",
			call: func() error {
				_, err := e.admin.RotateSigningKey(ctx, connect.NewRequest(&ferryv1.RotateSigningKeyRequest{
					ActivateDelay: durationpb.New(-time.Minute),
				}))
				return err
			},
			code: connect.CodeInvalidArgument, msg: "activate_delay",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			poolTestWantCode(t, tt.call(), tt.code, tt.msg)
		})
	}
	if diff := cmp.Diff(map[string]ferryv1.SigningKeyState{active: ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE},
		e.listStates(t, true)); diff != "" {
		t.Errorf("rejected calls changed the keys (-want +got):\n%s", diff)
	}
	if n := e.changes.Load(); n != 0 {
		t.Errorf("OnChange called %d times by rejected calls", n)
	}
}

func TestSigningKeyRotateWithoutKEK(t *testing.T) {
	t.Parallel()
	e := setupSigningEnv(t, nil)
	_, err := e.admin.RotateSigningKey(context.Background(), connect.NewRequest(&ferryv1.RotateSigningKeyRequest{}))
	poolTestWantCode(t, err, connect.CodeFailedPrecondition, "--signing-kek-file")
	if got := e.listStates(t, true); len(got) != 0 {
		t.Errorf("keys %v, want none", got)
	}
}

func TestSigningKeysBelongToTheInstallationWorkspace(t *testing.T) {
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	installation, other := uuid.New(), uuid.New()
	srv := &SigningKeyServer{
		Keys: signing.NewKeyring(st, testSigningKEK(t)), Clock: fake,
		Log:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
		InstallationWorkspace: func(context.Context) (uuid.UUID, error) { return installation, nil },
	}
	as := func(ws uuid.UUID) context.Context {
		return auth.WithPrincipal(context.Background(), auth.Principal{
			Kind: auth.KindAPIKey, WorkspaceID: ws, Subject: "apikey:tester", Role: "admin",
		})
	}
	_, err := srv.RotateSigningKey(as(other), connect.NewRequest(&ferryv1.RotateSigningKeyRequest{}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("rotate by another workspace's admin: %v, want PermissionDenied", err)
	}
	if _, err := srv.RotateSigningKey(as(installation), connect.NewRequest(&ferryv1.RotateSigningKeyRequest{})); err != nil {
		t.Fatalf("rotate by the installation's admin: %v", err)
	}
}
