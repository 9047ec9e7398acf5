package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
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
// database lookup. A revocation evicts the caches of every replica at once
// through [ChannelRevoke]; the TTL is the bound when that notification is
// lost (a replica reconnecting to PostgreSQL).
const cacheTTL = time.Second

// maxCacheEntries bounds the cache; it is cleared when full.
const maxCacheEntries = 10000

// touchInterval is how stale a credential's last use time may get before a
// call rewrites it; it also sets the precision of the session idle timeout.
const touchInterval = time.Minute

// DefaultSessionIdleTimeout ends a session unused for this long.
const DefaultSessionIdleTimeout = 12 * time.Hour

// ChannelRevoke is the PostgreSQL notification channel on which a
// revocation (API key, agent token, session, membership change) is
// announced, so that every replica drops its cached credentials.
const ChannelRevoke = "ferry_auth_revoke"

// Config configures an [Authenticator].
type Config struct {
	// Queries reads credentials. Required.
	Queries db.Querier
	// Clock tells the time. Required.
	Clock clock.Clock
	// Pepper keys the stored hashes. When nil, only version 1 (SHA-256)
	// hashes verify and sessions are refused.
	Pepper *Pepper
	// SessionIdleTimeout ends a session unused for this long. Default
	// [DefaultSessionIdleTimeout].
	SessionIdleTimeout time.Duration
}

// Authenticator verifies credentials against the database. It is safe for
// concurrent use.
type Authenticator struct {
	q      db.Querier
	clock  clock.Clock
	pepper *Pepper
	idle   time.Duration
	// dummy is compared against when a credential's prefix is unknown, so
	// an unknown key costs the same work as a wrong one.
	dummy []byte

	// Observe, when set, is told the principal of every authenticated call,
	// so the call's record (authorization, audit) learns who made it.
	Observe func(ctx context.Context, p Principal)

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	p       Principal
	expires time.Time
}

// NewAuthenticator returns an Authenticator reading credentials through q,
// without a pepper: it accepts API keys and agent tokens with version 1
// hashes only. Servers use [New].
func NewAuthenticator(q db.Querier, c clock.Clock) *Authenticator {
	return New(Config{Queries: q, Clock: c})
}

// New returns an Authenticator configured by cfg.
func New(cfg Config) *Authenticator {
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	a := &Authenticator{
		q: cfg.Queries, clock: cfg.Clock, pepper: cfg.Pepper, idle: cfg.SessionIdleTimeout,
		cache: make(map[[sha256.Size]byte]cached),
	}
	a.dummy = Hash("ferry dummy credential")
	if a.pepper != nil {
		a.dummy = a.pepper.Hash("ferry dummy credential")
	}
	return a
}

var errUnauthenticated = errors.New("missing or invalid credentials: send an API key or agent token as " +
	"\"Authorization: Bearer <secret>\", or log in")

func unauthenticated(err error) error { return connect.NewError(connect.CodeUnauthenticated, err) }

// Authenticate returns the principal of a credential: an API key, an agent
// token or a session token. Wrong, unknown, malformed, expired and revoked
// credentials all answer CodeUnauthenticated after comparable work.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (Principal, error) {
	kind, prefix, err := Parse(secret)
	if err != nil {
		a.matches(secret, a.dummy, HashHMAC)
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	now := a.clock.Now()
	cacheKey := sha256.Sum256([]byte(secret))
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
	case SessionKind:
		p, err = a.session(ctx, secret, prefix, now)
	}
	if err != nil {
		return Principal{}, err
	}
	a.mu.Lock()
	if len(a.cache) >= maxCacheEntries {
		clear(a.cache)
	}
	a.cache[cacheKey] = cached{p: p, expires: now.Add(cacheTTL)}
	a.mu.Unlock()
	return p, nil
}

// matches verifies secret against a stored hash of the given version.
// Without a pepper only version 1 hashes can match.
func (a *Authenticator) matches(secret string, stored []byte, version int16) bool {
	if a.pepper == nil {
		return version == HashSHA256 && Matches(secret, stored)
	}
	return a.pepper.Matches(secret, stored, version)
}

func (a *Authenticator) apiKey(ctx context.Context, secret, prefix string, now time.Time) (Principal, error) {
	key, err := a.q.APIKeyGetByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		a.matches(secret, a.dummy, HashHMAC)
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("look up API key: %w", err))
	}
	if !a.matches(secret, key.SecretHash, key.HashVersion) {
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	if key.RevokeTime != nil {
		return Principal{}, unauthenticated(errors.New("the API key was revoked"))
	}
	if key.ExpireTime != nil && !now.Before(*key.ExpireTime) {
		return Principal{}, unauthenticated(errors.New("the API key has expired"))
	}
	if key.HashVersion == HashSHA256 && a.pepper != nil {
		if err := a.q.APIKeyRehash(ctx, db.APIKeyRehashParams{ID: key.ID, SecretHash: a.pepper.Hash(secret)}); err != nil {
			return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("rehash API key: %w", err))
		}
	}
	if err := a.q.APIKeyTouch(ctx, db.APIKeyTouchParams{ID: key.ID, Now: now, StaleBefore: now.Add(-touchInterval)}); err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("record API key use: %w", err))
	}
	return Principal{
		Kind:         KindAPIKey,
		WorkspaceID:  key.WorkspaceID,
		CredentialID: key.ID,
		Subject:      "apikey:" + key.Prefix,
		Role:         key.Role,
		UserID:       key.UserID.UUID,
	}, nil
}

func (a *Authenticator) agentToken(ctx context.Context, secret, prefix string, now time.Time) (Principal, error) {
	tok, err := a.q.AgentTokenGetByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		a.matches(secret, a.dummy, HashHMAC)
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("look up agent token: %w", err))
	}
	if !a.matches(secret, tok.SecretHash, tok.HashVersion) {
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	if tok.RevokeTime != nil {
		return Principal{}, unauthenticated(errors.New("the agent token was revoked"))
	}
	if tok.HashVersion == HashSHA256 && a.pepper != nil {
		if err := a.q.AgentTokenRehash(ctx, db.AgentTokenRehashParams{ID: tok.ID, SecretHash: a.pepper.Hash(secret)}); err != nil {
			return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("rehash agent token: %w", err))
		}
	}
	if err := a.q.AgentTokenTouch(ctx, db.AgentTokenTouchParams{ID: tok.ID, Now: now, StaleBefore: now.Add(-touchInterval)}); err != nil {
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

func (a *Authenticator) session(ctx context.Context, secret, prefix string, now time.Time) (Principal, error) {
	if a.pepper == nil {
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	s, err := a.q.SessionGetByPrefix(ctx, prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		a.matches(secret, a.dummy, HashHMAC)
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	if err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("look up session: %w", err))
	}
	if !a.matches(secret, s.SecretHash, HashHMAC) {
		return Principal{}, unauthenticated(errUnauthenticated)
	}
	switch {
	case s.RevokeTime != nil:
		return Principal{}, unauthenticated(errors.New("the session was ended; log in again"))
	case !now.Before(s.ExpireTime), !now.Before(s.LastUseTime.Add(a.idle)):
		return Principal{}, unauthenticated(errors.New("the session has expired; log in again"))
	case s.Role == nil || s.Email == nil:
		return Principal{}, unauthenticated(errors.New("the user is no longer a member of the session's workspace"))
	}
	if err := a.q.SessionTouch(ctx, db.SessionTouchParams{ID: s.ID, Now: now, StaleBefore: now.Add(-touchInterval)}); err != nil {
		return Principal{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("record session use: %w", err))
	}
	return Principal{
		Kind:         KindSession,
		WorkspaceID:  s.WorkspaceID,
		CredentialID: s.ID,
		Subject:      "user:" + *s.Email,
		Role:         *s.Role,
		UserID:       s.UserID,
	}, nil
}

// Forget drops every cached credential, so a revocation takes effect at once
// on this replica. Subscribe it to [ChannelRevoke] so that it runs on every
// replica.
func (a *Authenticator) Forget() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// publicProcedures are answered without credentials.
var publicProcedures = map[string]bool{
	ferryv1connect.AuthServiceLoginProcedure: true,
}

// IsPublic reports whether procedure is served without credentials (only
// AuthService.Login). The interceptor puts no principal in its context.
func IsPublic(procedure string) bool { return publicProcedures[procedure] }

// Interceptor authenticates every call but the public ones ([IsPublic]).
// The credential is read from the Authorization header ("Bearer <secret>")
// or, when that header is absent, from the [SessionCookie] cookie; never
// from the URL. Agent tokens may call only AgentService; API keys and
// sessions may call everything else.
func (a *Authenticator) Interceptor() connect.Interceptor { return interceptor{a} }

type interceptor struct{ a *Authenticator }

// credential returns the caller's secret and whether it came from the
// session cookie.
func credential(h http.Header) (secret string, viaCookie bool, err error) {
	if header := h.Get("Authorization"); header != "" {
		secret, ok := strings.CutPrefix(header, "Bearer ")
		secret = strings.TrimSpace(secret)
		if !ok || secret == "" {
			return "", false, unauthenticated(errUnauthenticated)
		}
		return secret, false, nil
	}
	if secret := sessionFromCookies(h); secret != "" {
		return secret, true, nil
	}
	return "", false, unauthenticated(errUnauthenticated)
}

func (i interceptor) authenticate(ctx context.Context, procedure string, h http.Header) (context.Context, error) {
	if IsPublic(procedure) {
		return ctx, nil
	}
	secret, viaCookie, err := credential(h)
	if err != nil {
		return nil, err
	}
	p, err := i.a.Authenticate(ctx, secret)
	if err != nil {
		return nil, err
	}
	if viaCookie && p.Kind != KindSession {
		// Only session tokens belong in the cookie.
		return nil, unauthenticated(errUnauthenticated)
	}
	p.ViaCookie = viaCookie
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
		ctx, err := i.authenticate(ctx, req.Spec().Procedure, req.Header())
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
		ctx, err := i.authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
