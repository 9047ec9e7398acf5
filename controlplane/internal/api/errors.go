// Package api implements the Connect services of ferry.v1. Handlers
// authenticate (through the auth interceptor), validate (through the validate
// interceptor and domain checks), call the store, and map errors to Connect
// codes with messages a person can act on.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
)

// errInvalid returns an InvalidArgument error naming the field.
func errInvalid(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// errNotFound returns a NotFound error for a resource of a kind and name.
func errNotFound(kind, name string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s %q not found", kind, name))
}

// errPrecondition returns a FailedPrecondition error.
func errPrecondition(format string, args ...any) error {
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(format, args...))
}

// errInternal logs err and returns an Internal error that does not leak it.
func errInternal(ctx context.Context, log *slog.Logger, op string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeCanceled, fmt.Errorf("%s: request cancelled", op))
	}
	log.ErrorContext(ctx, "request failed", slog.String("op", op), slog.Any("error", err))
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s failed on the server; it was logged, try again", op))
}

// principal returns the authenticated caller; the auth interceptor
// guarantees one on every handler.
func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("no credentials"))
	}
	return p, nil
}
