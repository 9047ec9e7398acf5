package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/signing"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// SigningKeyServer implements [ferryv1connect.SigningKeyServiceHandler].
// Keys, Clock and Log are required.
type SigningKeyServer struct {
	Keys  *signing.Keyring
	Clock clock.Clock
	Log   *slog.Logger
	// OnChange, when set, is called after a key is created or retired, so
	// that this replica's signer reloads at once.
	OnChange func()
	// InstallationWorkspace returns the workspace whose admins manage the
	// installation: signing keys serve every workspace, so the admins of
	// other workspaces may read them but not rotate or retire them. Nil
	// leaves every workspace's admins allowed.
	InstallationWorkspace InstallationWorkspaceFunc
}

var _ ferryv1connect.SigningKeyServiceHandler = (*SigningKeyServer)(nil)

// RotateSigningKey creates a signing key, active at once or after the
// requested delay.
func (s *SigningKeyServer) RotateSigningKey(
	ctx context.Context,
	req *connect.Request[ferryv1.RotateSigningKeyRequest],
) (*connect.Response[ferryv1.RotateSigningKeyResponse], error) {
	p, err := s.requireSigningAdmin(ctx, "rotate signing keys")
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	activateAt := now.Add(req.Msg.GetActivateDelay().AsDuration())

	key, err := s.Keys.Rotate(ctx, now, activateAt)
	if err != nil {
		return nil, s.mapError(ctx, "rotate signing key", err)
	}
	if s.OnChange != nil {
		s.OnChange()
	}

	s.Log.InfoContext(ctx, "signing key rotated",
		slog.String("key_id", key.ID),
		slog.Time("activate_time", key.ActivateTime),
		slog.String("subject", p))
	return connect.NewResponse(&ferryv1.RotateSigningKeyResponse{Key: signingKeyToProto(key)}), nil
}

// ListSigningKeys lists the signing keys in activation order.
func (s *SigningKeyServer) ListSigningKeys(
	ctx context.Context,
	req *connect.Request[ferryv1.ListSigningKeysRequest],
) (*connect.Response[ferryv1.ListSigningKeysResponse], error) {
	if _, err := principal(ctx); err != nil {
		return nil, err
	}
	keys, err := s.Keys.List(ctx, s.Clock.Now(), req.Msg.GetIncludeRetired())
	if err != nil {
		return nil, s.mapError(ctx, "list signing keys", err)
	}
	resp := &ferryv1.ListSigningKeysResponse{Keys: make([]*ferryv1.SigningKey, 0, len(keys))}
	for _, k := range keys {
		resp.Keys = append(resp.Keys, signingKeyToProto(k))
	}
	return connect.NewResponse(resp), nil
}

// RetireSigningKey retires a key other than the active one.
func (s *SigningKeyServer) RetireSigningKey(
	ctx context.Context,
	req *connect.Request[ferryv1.RetireSigningKeyRequest],
) (*connect.Response[ferryv1.RetireSigningKeyResponse], error) {
	p, err := s.requireSigningAdmin(ctx, "retire signing keys")
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetId()
	if !signing.ValidKeyID(id) {
		return nil, errInvalid("id", "%q is not a signing key id (fk_ and 10 characters, as ferry keys ls shows)", id)
	}

	key, err := s.Keys.Retire(ctx, id, s.Clock.Now())
	if err != nil {
		return nil, s.mapError(ctx, "retire signing key", err)
	}
	if s.OnChange != nil {
		s.OnChange()
	}

	s.Log.InfoContext(ctx, "signing key retired", slog.String("key_id", key.ID), slog.String("subject", p))
	return connect.NewResponse(&ferryv1.RetireSigningKeyResponse{Key: signingKeyToProto(key)}), nil
}

// requireSigningAdmin returns the caller's subject when it may change
// signing keys, which serve every workspace: see [requireInstallationAdmin].
func (s *SigningKeyServer) requireSigningAdmin(ctx context.Context, action string) (string, error) {
	p, err := requireInstallationAdmin(ctx, s.InstallationWorkspace, s.Log, action)
	if err != nil {
		return "", err
	}
	return p.Subject, nil
}

// mapError turns a keyring error into a Connect error.
func (s *SigningKeyServer) mapError(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, signing.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New(strings.TrimPrefix(err.Error(), "signing: ")))
	case errors.Is(err, signing.ErrActiveKey):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(strings.TrimPrefix(err.Error(), "signing: ")))
	case errors.Is(err, signing.ErrNoKEK):
		return errPrecondition("this server has no signing key-encryption key, so it cannot create signing keys; " +
			"start it with --signing-kek-file")
	}
	return errInternal(ctx, s.Log, op, err)
}

func signingKeyToProto(k signing.Key) *ferryv1.SigningKey {
	out := &ferryv1.SigningKey{
		Id:           k.ID,
		PublicKey:    k.PublicKey,
		State:        signingKeyStateToProto(k.State),
		CreateTime:   timestamppb.New(k.CreateTime),
		ActivateTime: timestamppb.New(k.ActivateTime),
	}
	if k.RetireTime != nil {
		out.RetireTime = timestamppb.New(*k.RetireTime)
	}
	return out
}

func signingKeyStateToProto(s signing.State) ferryv1.SigningKeyState {
	switch s {
	case signing.StatePending:
		return ferryv1.SigningKeyState_SIGNING_KEY_STATE_PENDING
	case signing.StateActive:
		return ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE
	case signing.StatePrevious:
		return ferryv1.SigningKeyState_SIGNING_KEY_STATE_PREVIOUS
	case signing.StateRetired:
		return ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED
	}
	return ferryv1.SigningKeyState_SIGNING_KEY_STATE_UNSPECIFIED
}
