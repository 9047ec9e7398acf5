package api

import (
	"context"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// AgentTokenServer implements [ferryv1connect.AgentTokenServiceHandler].
// Store, Clock and Log are required.
type AgentTokenServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// OnRevoke, when set, is called after a revocation commits, so that
	// credentials cached by the authenticator are dropped at once.
	OnRevoke func()
}

var _ ferryv1connect.AgentTokenServiceHandler = (*AgentTokenServer)(nil)

// CreateAgentToken issues a token bound to a pool of the caller's workspace.
// The secret is in the response only; the database keeps its hash.
func (s *AgentTokenServer) CreateAgentToken(
	ctx context.Context,
	req *connect.Request[ferryv1.CreateAgentTokenRequest],
) (*connect.Response[ferryv1.CreateAgentTokenResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	secret, err := auth.NewSecret(auth.AgentTokenKind)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create agent token", fmt.Errorf("issue secret: %w", err))
	}

	var token db.AgentToken
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		pool, err := lookupPool(ctx, q, p.WorkspaceID, m.GetPool())
		if err != nil {
			return err
		}
		token, err = q.AgentTokenInsert(ctx, db.AgentTokenInsertParams{
			ID:          uuid.New(),
			WorkspaceID: p.WorkspaceID,
			PoolID:      pool.ID,
			Name:        m.GetName(),
			Prefix:      secret.Prefix,
			SecretHash:  secret.Hash,
			Now:         s.Clock.Now(),
		})
		// The pool was deleted after the lookup.
		if isForeignKeyViolation(err) {
			return errNotFound("work pool", m.GetPool())
		}
		if err != nil {
			return fmt.Errorf("insert agent token: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create agent token", err)
	}

	s.Log.InfoContext(ctx, "agent token created",
		slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("pool", m.GetPool()),
		slog.String("token_id", token.ID.String()))
	return connect.NewResponse(&ferryv1.CreateAgentTokenResponse{
		Token:  agentTokenToProto(token, m.GetPool()),
		Secret: secret.Full,
	}), nil
}

// ListAgentTokens lists the tokens of a pool, revoked ones included, oldest
// first and without their secrets.
func (s *AgentTokenServer) ListAgentTokens(
	ctx context.Context,
	req *connect.Request[ferryv1.ListAgentTokensRequest],
) (*connect.Response[ferryv1.ListAgentTokensResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := lookupPool(ctx, s.Store.Q, p.WorkspaceID, req.Msg.GetPool())
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list agent tokens", err)
	}
	tokens, err := s.Store.Q.AgentTokenList(ctx, pool.ID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list agent tokens", fmt.Errorf("list agent tokens: %w", err))
	}
	resp := &ferryv1.ListAgentTokensResponse{Tokens: make([]*ferryv1.AgentToken, 0, len(tokens))}
	for _, t := range tokens {
		resp.Tokens = append(resp.Tokens, agentTokenToProto(t, pool.Name))
	}
	return connect.NewResponse(resp), nil
}

// RevokeAgentToken revokes a token of the caller's workspace. Revoking a
// revoked token succeeds and keeps the first revocation time.
func (s *AgentTokenServer) RevokeAgentToken(
	ctx context.Context,
	req *connect.Request[ferryv1.RevokeAgentTokenRequest],
) (*connect.Response[ferryv1.RevokeAgentTokenResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	idText := req.Msg.GetId()
	id, err := uuid.Parse(idText)
	if err != nil {
		return nil, errInvalid("id", "not a UUID")
	}

	// The notification tells every replica: their authenticators forget
	// cached credentials, and their dispatch hubs close the streams opened
	// with this token.
	var token db.AgentToken
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		var err error
		token, err = q.AgentTokenRevoke(ctx, db.AgentTokenRevokeParams{
			WorkspaceID: p.WorkspaceID,
			ID:          id,
			Now:         s.Clock.Now(),
		})
		if err != nil {
			return err
		}
		if err := q.Notify(ctx, db.NotifyParams{Channel: auth.ChannelRevoke, Payload: token.ID.String()}); err != nil {
			return fmt.Errorf("announce revocation: %w", err)
		}
		return nil
	})
	if store.IsNotFound(err) {
		return nil, errNotFound("agent token", idText)
	}
	if err != nil {
		return nil, errInternal(ctx, s.Log, "revoke agent token", fmt.Errorf("revoke agent token: %w", err))
	}
	if s.OnRevoke != nil {
		s.OnRevoke()
	}

	s.Log.InfoContext(ctx, "agent token revoked",
		slog.String("workspace_id", p.WorkspaceID.String()),
		slog.String("token_id", token.ID.String()))
	return connect.NewResponse(&ferryv1.RevokeAgentTokenResponse{}), nil
}
