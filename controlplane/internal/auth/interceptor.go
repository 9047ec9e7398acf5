package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// cacheTTL bounds how long a verified credential is trusted without a
// database lookup. Revocation therefore takes effect within this time.
const cacheTTL = 2 * time.Second

// Authenticator verifies credentials against the database.
type Authenticator struct {
	q     db.Querier
	clock clock.Clock

	// Observe, when set, is told the principal of every authenticated call,
	// so the call's record (authorization, audit) learns who made it.
	Observe func(ctx context.Context, p Principal)

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	p       Principal
	expires time.Time
}

// NewAuthenticator returns an Authenticator reading credentials through q.
func NewAuthenticator(q db.Querier, c clock.Clock) *Authenticator {
	return &Authenticator{q: q, clock: c, cache: make(map[string]cached)}
}

var errUnauthenticated = errors.New("missing or invalid credentials: send an API key or agent token as \"Authorization: Bearer <secret>\"")

// Authenticate returns the principal of a bearer credential.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (Principal, error) {
	kind, prefix, err := Parse(secret)
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	now := a.clock.Now()
	cacheKey := string(Hash(secret))
	a.mu.Lock()
	if c, ok := a.cache[cacheKey]; ok && now.Before(c.expires) {
		a.mu.Unlock()
		return c.p, nil
	}
	a.mu.Unlock()

	var p Principal
	switch kind {
	case APIKeyKind:
		p, err = a.apiKey(ctx, secret, prefix, now)
	case AgentTokenKind:
		p, err = a.agentToken(ctx, secret, prefix, now)
	}
	if err != nil {
		return Principal{}, err
	}
	a.mu.Lock()
	if len(a.cache) > 10000 {
		clear(a.cache)
	}
	a.cache[cacheKey] = cached{p: p, expires: now.Add(cacheTTL)}
	a.mu.Unlock()
	return p, nil
}

func (a *Authenticator) apiKey(ctx context.Context, secret, prefix string, now time.Time) (Principal, error) {
	key, err := a.q.APIKeyGetByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("look up API key: %w", err))
	}
	if !Matches(secret, key.SecretHash) {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	if key.RevokeTime != nil {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("the API key was revoked"))
	}
	if key.ExpireTime != nil && !now.Before(*key.ExpireTime) {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("the API key has expired"))
	}
	if err := a.q.APIKeyTouch(ctx, db.APIKeyTouchParams{ID: key.ID, Now: now, StaleBefore: now.Add(-time.Minute)}); err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("record API key use: %w", err))
	}
	return Principal{
		Kind:         KindAPIKey,
		WorkspaceID:  key.WorkspaceID,
		CredentialID: key.ID,
		Subject:      "apikey:" + key.Prefix,
		Role:         key.Role,
	}, nil
}

func (a *Authenticator) agentToken(ctx context.Context, secret, prefix string, now time.Time) (Principal, error) {
	tok, err := a.q.AgentTokenGetByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("look up agent token: %w", err))
	}
	if !Matches(secret, tok.SecretHash) {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	if tok.RevokeTime != nil {
		return Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("the agent token was revoked"))
	}
	if err := a.q.AgentTokenTouch(ctx, db.AgentTokenTouchParams{ID: tok.ID, Now: now, StaleBefore: now.Add(-time.Minute)}); err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("record agent token use: %w", err))
	}
	return Principal{
		Kind:         KindAgent,
		WorkspaceID:  tok.WorkspaceID,
		CredentialID: tok.ID,
		Subject:      "agent-token:" + tok.Prefix,
		PoolID:       tok.PoolID,
	}, nil
}

// Forget drops every cached credential, so a revocation takes effect at once
// on this replica.
func (a *Authenticator) Forget() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// Interceptor authenticates every call. Agent tokens may call only
// AgentService; API keys may call everything else.
func (a *Authenticator) Interceptor() connect.Interceptor { return interceptor{a} }

type interceptor struct{ a *Authenticator }

func (i interceptor) authenticate(ctx context.Context, procedure, header string) (context.Context, error) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return nil, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	p, err := i.a.Authenticate(ctx, strings.TrimSpace(secret))
	if err != nil {
		return nil, err
	}
	agentCall := strings.HasPrefix(procedure, "/"+ferryv1connect.AgentServiceName+"/")
	switch {
	case agentCall && p.Kind != KindAgent:
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("AgentService needs an agent token, not an API key"))
	case !agentCall && p.Kind == KindAgent:
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("an agent token may only call AgentService"))
	}
	if i.a.Observe != nil {
		i.a.Observe(ctx, p)
	}
	return WithPrincipal(ctx, p), nil
}

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := i.authenticate(ctx, req.Spec().Procedure, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
