package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/callinfo"
)

// Subject kinds the policy gives meaning to; see policy/authz/authz.rego.
const (
	// KindAgent is an agent's token.
	KindAgent = "agent"
	// KindAnonymous is a call without a principal.
	KindAnonymous = "anonymous"
	// KindAPIKey is an API key.
	KindAPIKey = "apikey"
	// KindSession is a person logged in with a password.
	KindSession = "session"
)

// SubjectOf returns the policy's view of a principal.
func SubjectOf(p auth.Principal) Subject {
	return Subject{Kind: kindName(p.Kind), ID: p.Subject, Role: p.Role, WorkspaceID: p.WorkspaceID}
}

// kindName names a principal's kind. Kinds this package does not know are
// named by their own String method, or by number; either way they are not
// agents, so the policy judges them by their role.
func kindName(k auth.Kind) string {
	switch k {
	case auth.KindAPIKey:
		return KindAPIKey
	case auth.KindAgent:
		return KindAgent
	case auth.KindSession:
		return KindSession
	}
	if s, ok := any(k).(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("kind_%d", int(k))
}

// Interceptor authorizes every unary and streaming call it handles; it
// must run after authentication, which puts the principal in the context.
// A call without a principal is judged as anonymous, which only public
// procedures allow; refused, it answers Unauthenticated. Any other denied
// call answers PermissionDenied with the policy's reason, such as
// "role: viewer lacks permission runs.create"; a call the policy cannot
// judge answers Unavailable. A refused call never reaches the handler. The
// decision and, when the record has none yet, the resource are recorded in
// the call's [callinfo.Record].
//
// Streaming calls are judged before the handler receives their first
// message, so their resource carries only the type.
func (a *Authorizer) Interceptor() connect.Interceptor { return interceptor{a} }

type interceptor struct{ a *Authorizer }

func (i interceptor) authorize(ctx context.Context, procedure string, msg any) error {
	in := Input{Subject: Subject{Kind: KindAnonymous}, Procedure: procedure, Resource: ResourceOf(procedure, msg)}
	if p, ok := auth.FromContext(ctx); ok {
		in.Subject = SubjectOf(p)
	}
	d, err := i.a.Authorize(ctx, in)

	rec := callinfo.From(ctx)
	if rec != nil {
		decision := callinfo.DecisionDeny
		if d.Allow {
			decision = callinfo.DecisionAllow
		}
		rec.SetDecision(decision, d.Reason)
		if rec.Resource() == "" {
			rec.SetResource(resourceLabel(in.Resource))
		}
	}
	switch {
	case err != nil:
		i.a.opts.Log.WarnContext(ctx, "call not authorized: policy evaluation failed",
			slog.String("procedure", procedure), slog.Any("error", err))
		return connect.NewError(connect.CodeUnavailable,
			errors.New("the authorization policy could not judge this call; it was logged, try again"))
	case !d.Allow && in.Subject.Kind == KindAnonymous:
		return connect.NewError(connect.CodeUnauthenticated, errors.New(d.Reason))
	case !d.Allow:
		return connect.NewError(connect.CodePermissionDenied, errors.New(d.Reason))
	}
	return nil
}

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.authorize(ctx, req.Spec().Procedure, req.Any()); err != nil {
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
		if err := i.authorize(ctx, conn.Spec().Procedure, nil); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
