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
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Kind        Kind
	WorkspaceID uuid.UUID
	// CredentialID is the id of the API key or agent token used.
	CredentialID uuid.UUID
	// Subject names the caller in history and logs, e.g. "apikey:abcd1234efgh".
	Subject string
	// Role is the API key's role; empty for agents.
	Role string
	// PoolID is the pool an agent token is bound to.
	PoolID uuid.UUID
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
