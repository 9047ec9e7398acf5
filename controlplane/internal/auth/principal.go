package auth

import (
	"context"

	"github.com/google/uuid"
)

// Kind says how a caller authenticated.
type Kind int

const (
	// KindAPIKey is a person or program using an API key.
	KindAPIKey Kind = iota + 1
	// KindAgent is a ferry-agent using an agent token.
	KindAgent
	// KindSession is a person logged in with a password, using the session
	// token from a cookie (browsers) or a bearer header (the CLI).
	KindSession
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Kind        Kind
	WorkspaceID uuid.UUID
	// CredentialID is the id of the API key or agent token used.
	CredentialID uuid.UUID
	// Subject names the caller in history and logs, e.g. "apikey:abcd1234efgh"
	// or "user:ada@example.com".
	Subject string
	// Role is the API key's role, or a session user's role in the
	// workspace; empty for agents.
	Role string
	// PoolID is the pool an agent token is bound to.
	PoolID uuid.UUID
	// UserID is the user behind a session, or the user or service account
	// owning an API key; uuid.Nil for agents and for keys without an owner
	// (the bootstrap admin key).
	UserID uuid.UUID
	// ViaCookie reports whether the credential came from the session cookie
	// rather than the Authorization header, so cross-site request checks
	// know the browser attached it by itself.
	ViaCookie bool
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal; ok is false for an
// unauthenticated context.
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}
