package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/identity"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// AuthServer implements [ferryv1connect.AuthServiceHandler]. All fields but
// OnRevoke are required.
type AuthServer struct {
	Identity *identity.Service
	Store    *store.Store
	Log      *slog.Logger
	// OnRevoke, when set, is called after a logout commits, so that this
	// replica's authenticator forgets cached credentials at once.
	OnRevoke func()
}

var _ ferryv1connect.AuthServiceHandler = (*AuthServer)(nil)

// Login checks a password and starts a session, handed to the client only in
// a Set-Cookie header.
func (s *AuthServer) Login(
	ctx context.Context,
	req *connect.Request[ferryv1.LoginRequest],
) (*connect.Response[ferryv1.LoginResponse], error) {
	m := req.Msg
	res, err := s.Identity.Login(ctx, identity.LoginInput{
		Email: m.GetEmail(), Password: m.GetPassword(), Workspace: m.GetWorkspace(), SourceAddr: req.Peer().Addr,
	})
	var choice *identity.WorkspaceChoiceError
	switch {
	case errors.Is(err, identity.ErrInvalidLogin):
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, identity.ErrTooManyAttempts):
		return nil, connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, identity.ErrNoMembership):
		return nil, connect.NewError(connect.CodePermissionDenied, err)
	case errors.As(err, &choice):
		return nil, errInvalid("workspace", "%s", choice.Error())
	case err != nil:
		return nil, errInternal(ctx, s.Log, "log in", err)
	}
	resp := connect.NewResponse(&ferryv1.LoginResponse{
		User:       userToProto(res.User, string(res.Role)),
		Workspace:  res.Workspace.Name,
		ExpireTime: timestamppb.New(res.Session.ExpireTime),
	})
	resp.Header().Add("Set-Cookie", auth.NewSessionCookie(res.Token, res.Session.ExpireTime,
		auth.CookieSecure(req.Peer().Addr, req.Header())))
	resp.Header().Set("Cache-Control", "no-store")
	return resp, nil
}

// Logout ends the calling session and clears the cookie.
func (s *AuthServer) Logout(
	ctx context.Context,
	req *connect.Request[ferryv1.LogoutRequest],
) (*connect.Response[ferryv1.LogoutResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind != auth.KindSession {
		return nil, errPrecondition("only a login session can log out; revoke an API key with RevokeAPIKey")
	}
	if err := s.Identity.Logout(ctx, p.CredentialID); err != nil {
		return nil, errInternal(ctx, s.Log, "log out", err)
	}
	if s.OnRevoke != nil {
		s.OnRevoke()
	}
	resp := connect.NewResponse(&ferryv1.LogoutResponse{})
	resp.Header().Add("Set-Cookie", auth.ClearSessionCookie(auth.CookieSecure(req.Peer().Addr, req.Header())))
	return resp, nil
}

// WhoAmI describes the caller.
func (s *AuthServer) WhoAmI(
	ctx context.Context,
	_ *connect.Request[ferryv1.WhoAmIRequest],
) (*connect.Response[ferryv1.WhoAmIResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.WhoAmIResponse{
		Subject: p.Subject, Kind: kindName(p.Kind), WorkspaceId: p.WorkspaceID.String(), Role: p.Role,
	}
	if p.UserID != uuid.Nil {
		u, err := s.Store.Q.UserGet(ctx, p.UserID)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "who am I", fmt.Errorf("read user: %w", err))
		}
		out.User = userToProto(u, p.Role)
	}
	return connect.NewResponse(out), nil
}

func kindName(k auth.Kind) string {
	switch k {
	case auth.KindAPIKey:
		return "apikey"
	case auth.KindSession:
		return "session"
	case auth.KindAgent:
		return "agent"
	}
	return "unknown"
}

func userToProto(u db.User, role string) *ferryv1.User {
	out := &ferryv1.User{
		Id: u.ID.String(), DisplayName: u.DisplayName, Role: role, CreateTime: timestamppb.New(u.CreateTime),
		Kind: ferryv1.UserKind_USER_KIND_HUMAN,
	}
	if u.Kind == identity.KindService {
		out.Kind = ferryv1.UserKind_USER_KIND_SERVICE
	}
	if u.Email != nil {
		out.Email = *u.Email
	}
	return out
}

// grantable parses role and checks that the caller may grant it: nobody
// grants a role above their own.
func grantable(p auth.Principal, field, role string) (auth.Role, error) {
	r, err := auth.ParseRole(role)
	if err != nil {
		return "", errInvalid(field, "%v", err)
	}
	if !auth.Role(p.Role).CanGrant(r) {
		return "", connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("a %s cannot grant the role %s: nobody grants a role above their own", roleLabel(p.Role), r))
	}
	return r, nil
}

func roleLabel(role string) string {
	if role == "" {
		return "caller without a role"
	}
	return role
}

// UserServer implements [ferryv1connect.UserServiceHandler]. All fields but
// OnRevoke are required.
type UserServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// Password sets the cost of new password hashes.
	Password identity.PasswordParams
	// OnRevoke, when set, is called after a membership change commits.
	OnRevoke func()
}

var _ ferryv1connect.UserServiceHandler = (*UserServer)(nil)

// CreateUser creates a person and makes them a member of the caller's
// workspace.
func (s *UserServer) CreateUser(
	ctx context.Context,
	req *connect.Request[ferryv1.CreateUserRequest],
) (*connect.Response[ferryv1.CreateUserResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	role, err := grantable(p, "role", m.GetRole())
	if err != nil {
		return nil, err
	}
	email, err := identity.NormalizeEmail(m.GetEmail())
	if err != nil {
		return nil, errInvalid("email", "%v", err)
	}
	if err := identity.CheckPassword(m.GetPassword()); err != nil {
		return nil, errInvalid("password", "%v", err)
	}
	hash, err := identity.HashPassword(m.GetPassword(), s.Password)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create user", err)
	}

	now := s.Clock.Now()
	var u db.User
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		u, err = q.UserInsert(ctx, db.UserInsertParams{
			ID: uuid.New(), Kind: identity.KindHuman, Email: &email, DisplayName: m.GetDisplayName(),
			PasswordHash: &hash, Now: now,
		})
		if store.IsUniqueViolation(err) {
			return connect.NewError(connect.CodeAlreadyExists,
				fmt.Errorf("a user with email %q exists; add them with AddMembership", email))
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		_, err = q.MembershipUpsert(ctx, db.MembershipUpsertParams{
			UserID: u.ID, WorkspaceID: p.WorkspaceID, Role: string(role), Now: now,
		})
		if err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create user", err)
	}
	s.Log.InfoContext(ctx, "user created", slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("user_id", u.ID.String()), slog.String("role", string(role)))
	return connect.NewResponse(&ferryv1.CreateUserResponse{User: userToProto(u, string(role))}), nil
}

// ListUsers lists the members of the caller's workspace.
func (s *UserServer) ListUsers(
	ctx context.Context,
	_ *connect.Request[ferryv1.ListUsersRequest],
) (*connect.Response[ferryv1.ListUsersResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.Store.Q.MembershipListByWorkspace(ctx, p.WorkspaceID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list users", fmt.Errorf("list members: %w", err))
	}
	out := &ferryv1.ListUsersResponse{Users: make([]*ferryv1.User, 0, len(rows))}
	for _, r := range rows {
		out.Users = append(out.Users, userToProto(db.User{
			ID: r.ID, Kind: r.Kind, Email: r.Email, DisplayName: r.DisplayName, CreateTime: r.CreateTime,
		}, r.Role))
	}
	return connect.NewResponse(out), nil
}

// memberTarget loads the person with email and their membership in the
// caller's workspace (nil when they have none), refusing to touch a member
// whose role is above the caller's.
func memberTarget(ctx context.Context, q db.Querier, p auth.Principal, email string) (db.User, *db.Membership, error) {
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return db.User{}, nil, errInvalid("email", "%v", err)
	}
	u, err := q.UserGetByEmail(ctx, &email)
	if store.IsNotFound(err) {
		return db.User{}, nil, errNotFound("user", email)
	}
	if err != nil {
		return db.User{}, nil, fmt.Errorf("look up user: %w", err)
	}
	mem, err := q.MembershipGet(ctx, db.MembershipGetParams{UserID: u.ID, WorkspaceID: p.WorkspaceID})
	if store.IsNotFound(err) {
		return u, nil, nil
	}
	if err != nil {
		return db.User{}, nil, fmt.Errorf("read membership: %w", err)
	}
	if !auth.Role(p.Role).CanGrant(auth.Role(mem.Role)) {
		return db.User{}, nil, connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("a %s cannot change the membership of a %s", roleLabel(p.Role), mem.Role))
	}
	return u, &mem, nil
}

// AddMembership gives a person a role in the caller's workspace.
func (s *UserServer) AddMembership(
	ctx context.Context,
	req *connect.Request[ferryv1.AddMembershipRequest],
) (*connect.Response[ferryv1.AddMembershipResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	role, err := grantable(p, "role", req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	var u db.User
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		u, _, err = memberTarget(ctx, q, p, req.Msg.GetEmail())
		if err != nil {
			return err
		}
		if _, err := q.MembershipUpsert(ctx, db.MembershipUpsertParams{
			UserID: u.ID, WorkspaceID: p.WorkspaceID, Role: string(role), Now: s.Clock.Now(),
		}); err != nil {
			return fmt.Errorf("upsert membership: %w", err)
		}
		return identity.NotifyRevoked(ctx, q, u.ID)
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "add membership", err)
	}
	if s.OnRevoke != nil {
		s.OnRevoke()
	}
	s.Log.InfoContext(ctx, "membership set", slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("user_id", u.ID.String()), slog.String("role", string(role)))
	return connect.NewResponse(&ferryv1.AddMembershipResponse{User: userToProto(u, string(role))}), nil
}

// RemoveMembership removes a person from the caller's workspace and ends
// their sessions and API keys there.
func (s *UserServer) RemoveMembership(
	ctx context.Context,
	req *connect.Request[ferryv1.RemoveMembershipRequest],
) (*connect.Response[ferryv1.RemoveMembershipResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		u, mem, err := memberTarget(ctx, q, p, req.Msg.GetEmail())
		if err != nil {
			return err
		}
		if mem == nil {
			return errNotFound("member", strings.ToLower(req.Msg.GetEmail()))
		}
		if _, err := q.MembershipDelete(ctx, db.MembershipDeleteParams{UserID: u.ID, WorkspaceID: p.WorkspaceID}); err != nil {
			return fmt.Errorf("delete membership: %w", err)
		}
		if _, err := q.SessionRevokeByUser(ctx, db.SessionRevokeByUserParams{UserID: u.ID, WorkspaceID: p.WorkspaceID, Now: now}); err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		if _, err := q.APIKeyRevokeByUser(ctx, db.APIKeyRevokeByUserParams{
			UserID: uuid.NullUUID{UUID: u.ID, Valid: true}, WorkspaceID: p.WorkspaceID, Now: now,
		}); err != nil {
			return fmt.Errorf("revoke API keys: %w", err)
		}
		return identity.NotifyRevoked(ctx, q, u.ID)
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "remove membership", err)
	}
	if s.OnRevoke != nil {
		s.OnRevoke()
	}
	return connect.NewResponse(&ferryv1.RemoveMembershipResponse{}), nil
}

// CreateServiceAccount creates a user without a password, member of the
// caller's workspace, to own API keys.
func (s *UserServer) CreateServiceAccount(
	ctx context.Context,
	req *connect.Request[ferryv1.CreateServiceAccountRequest],
) (*connect.Response[ferryv1.CreateServiceAccountResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	role, err := grantable(p, "role", req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var u db.User
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		u, err = q.UserInsert(ctx, db.UserInsertParams{
			ID: uuid.New(), Kind: identity.KindService, DisplayName: req.Msg.GetName(),
			WorkspaceID: uuid.NullUUID{UUID: p.WorkspaceID, Valid: true}, Now: now,
		})
		if store.IsUniqueViolation(err) {
			return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("service account %q exists", req.Msg.GetName()))
		}
		if err != nil {
			return fmt.Errorf("insert service account: %w", err)
		}
		if _, err := q.MembershipUpsert(ctx, db.MembershipUpsertParams{
			UserID: u.ID, WorkspaceID: p.WorkspaceID, Role: string(role), Now: now,
		}); err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create service account", err)
	}
	return connect.NewResponse(&ferryv1.CreateServiceAccountResponse{User: userToProto(u, string(role))}), nil
}

// APIKeyServer implements [ferryv1connect.APIKeyServiceHandler]. All fields
// but OnRevoke are required.
type APIKeyServer struct {
	Store  *store.Store
	Clock  clock.Clock
	Log    *slog.Logger
	Pepper *auth.Pepper
	// OnRevoke, when set, is called after a revocation commits, so that this
	// replica's authenticator forgets cached credentials at once; other
	// replicas learn of it through [auth.ChannelRevoke].
	OnRevoke func()
}

var _ ferryv1connect.APIKeyServiceHandler = (*APIKeyServer)(nil)

// CreateAPIKey issues a key in the caller's workspace with a role no higher
// than the caller's. The secret is in the response only.
func (s *APIKeyServer) CreateAPIKey(
	ctx context.Context,
	req *connect.Request[ferryv1.CreateAPIKeyRequest],
) (*connect.Response[ferryv1.CreateAPIKeyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	role, err := grantable(p, "role", m.GetRole())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var expire *time.Time
	if m.GetTtl() != nil {
		ttl := m.GetTtl().AsDuration()
		if ttl <= 0 {
			return nil, errInvalid("ttl", "must be positive")
		}
		t := now.Add(ttl)
		expire = &t
	}
	secret, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create API key", fmt.Errorf("issue secret: %w", err))
	}

	var key db.ApiKey
	owner := ""
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		ownerID := uuid.NullUUID{UUID: p.UserID, Valid: p.UserID != uuid.Nil}
		if sa := m.GetServiceAccount(); sa != "" {
			u, err := q.UserGetServiceAccount(ctx, db.UserGetServiceAccountParams{
				WorkspaceID: uuid.NullUUID{UUID: p.WorkspaceID, Valid: true}, Name: sa,
			})
			if store.IsNotFound(err) {
				return errNotFound("service account", sa)
			}
			if err != nil {
				return fmt.Errorf("look up service account: %w", err)
			}
			mem, err := q.MembershipGet(ctx, db.MembershipGetParams{UserID: u.ID, WorkspaceID: p.WorkspaceID})
			if err != nil {
				return fmt.Errorf("read service account membership: %w", err)
			}
			if !auth.Role(mem.Role).CanGrant(role) {
				return connect.NewError(connect.CodePermissionDenied,
					fmt.Errorf("service account %s is a %s and cannot hold a %s key", sa, mem.Role, role))
			}
			ownerID, owner = uuid.NullUUID{UUID: u.ID, Valid: true}, sa
		}
		key, err = q.APIKeyCreate(ctx, db.APIKeyCreateParams{
			ID: uuid.New(), WorkspaceID: p.WorkspaceID, Name: m.GetName(), Prefix: secret.Prefix,
			SecretHash: s.Pepper.Hash(secret.Full), Role: string(role), UserID: ownerID,
			CreatedBy: p.Subject, Now: now, ExpireTime: expire,
		})
		if err != nil {
			return fmt.Errorf("insert API key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create API key", err)
	}
	if owner == "" && p.Kind == auth.KindSession {
		owner = strings.TrimPrefix(p.Subject, "user:")
	}
	s.Log.InfoContext(ctx, "API key created", slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("key_id", key.ID.String()), slog.String("role", string(role)))
	return connect.NewResponse(&ferryv1.CreateAPIKeyResponse{Key: apiKeyToProto(key, owner), Secret: secret.Full}), nil
}

// ListAPIKeys lists the keys of the caller's workspace, revoked ones
// included, oldest first and without secrets.
func (s *APIKeyServer) ListAPIKeys(
	ctx context.Context,
	_ *connect.Request[ferryv1.ListAPIKeysRequest],
) (*connect.Response[ferryv1.ListAPIKeysResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.Store.Q.APIKeyList(ctx, p.WorkspaceID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list API keys", fmt.Errorf("list API keys: %w", err))
	}
	out := &ferryv1.ListAPIKeysResponse{Keys: make([]*ferryv1.APIKey, 0, len(rows))}
	for _, r := range rows {
		out.Keys = append(out.Keys, apiKeyToProto(r.ApiKey, r.Owner))
	}
	return connect.NewResponse(out), nil
}

// RevokeAPIKey revokes a key of the caller's workspace; every replica
// refuses it from the next call. Revoking a revoked key succeeds and keeps
// the first revocation time.
func (s *APIKeyServer) RevokeAPIKey(
	ctx context.Context,
	req *connect.Request[ferryv1.RevokeAPIKeyRequest],
) (*connect.Response[ferryv1.RevokeAPIKeyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	idText := req.Msg.GetId()
	id, err := uuid.Parse(idText)
	if err != nil {
		return nil, errInvalid("id", "not a UUID")
	}
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		key, err := q.APIKeyGet(ctx, db.APIKeyGetParams{WorkspaceID: p.WorkspaceID, ID: id})
		if store.IsNotFound(err) {
			return errNotFound("API key", idText)
		}
		if err != nil {
			return fmt.Errorf("read API key: %w", err)
		}
		if !auth.Role(p.Role).CanGrant(auth.Role(key.Role)) {
			return connect.NewError(connect.CodePermissionDenied,
				fmt.Errorf("a %s cannot revoke a %s key", roleLabel(p.Role), key.Role))
		}
		if _, err := q.APIKeyRevoke(ctx, db.APIKeyRevokeParams{WorkspaceID: p.WorkspaceID, ID: id, Now: s.Clock.Now()}); err != nil {
			return fmt.Errorf("revoke API key: %w", err)
		}
		return identity.NotifyRevoked(ctx, q, id)
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "revoke API key", err)
	}
	if s.OnRevoke != nil {
		s.OnRevoke()
	}
	s.Log.InfoContext(ctx, "API key revoked", slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("key_id", id.String()))
	return connect.NewResponse(&ferryv1.RevokeAPIKeyResponse{}), nil
}

func apiKeyToProto(k db.ApiKey, owner string) *ferryv1.APIKey {
	return &ferryv1.APIKey{
		Id: k.ID.String(), Name: k.Name, Prefix: k.Prefix, Role: k.Role, Owner: owner, CreatedBy: k.CreatedBy,
		CreateTime: timestamppb.New(k.CreateTime), ExpireTime: optionalTimestamp(k.ExpireTime),
		RevokeTime: optionalTimestamp(k.RevokeTime), LastUseTime: optionalTimestamp(k.LastUseTime),
	}
}
