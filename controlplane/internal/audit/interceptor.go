package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/callinfo"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// RequestIDHeader carries a call's request id. A client may send one (up to
// 64 letters, digits, '.', '_', ':' or '-'); the server uses it, or makes
// one, and echoes it in the response.
const RequestIDHeader = "Ferry-Request-Id"

const (
	// defaultWriteTimeout bounds storing one event, so a stuck database
	// delays a response by at most this much.
	defaultWriteTimeout = 5 * time.Second
	// maxRequestIDLen is the longest request id accepted from a client.
	maxRequestIDLen = 64
)

// Column limits: values are cut to these many bytes, so a long resource
// name or message can neither fail the INSERT nor bloat the table.
const (
	maxActorLen     = 256
	maxProcedureLen = 256
	maxResourceLen  = 512
	maxReasonLen    = 1024
	maxAddrLen      = 128
)

// machinePrefix starts the procedures of agents: their calls are audited
// only when denied (see the package comment).
const machinePrefix = "/" + ferryv1connect.AgentServiceName + "/"

// Actor names used when no principal is known.
const (
	// ActorAnonymous is the actor of a call without accepted credentials.
	ActorAnonymous = "anonymous"
)

// Inserter stores one audit event; [db.Queries] implements it.
type Inserter interface {
	AuditEventInsert(ctx context.Context, arg db.AuditEventInsertParams) error
}

// Config configures an [Interceptor].
type Config struct {
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For header
	// is believed. Default none: the source address is the TCP peer's, and
	// the header is ignored, since any client can send it.
	TrustedProxies []Proxy
	// WriteTimeout bounds storing one event. Default 5s.
	WriteTimeout time.Duration
}

// Interceptor opens every call's [callinfo.Record] and writes the audit
// trail. It must be the outermost interceptor. It is safe for concurrent
// use.
type Interceptor struct {
	q       Inserter
	clock   clock.Clock
	log     *slog.Logger
	proxies proxies
	timeout time.Duration
}

// NewInterceptor returns an Interceptor storing events through q.
func NewInterceptor(cfg Config, q Inserter, c clock.Clock, log *slog.Logger) *Interceptor {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	return &Interceptor{q: q, clock: c, log: log, proxies: cfg.TrustedProxies, timeout: cfg.WriteTimeout}
}

// ObservePrincipal records p in the call's record. Assign it to
// [auth.Authenticator.Observe] so the audit trail learns who called.
func ObservePrincipal(ctx context.Context, p auth.Principal) {
	if r := callinfo.From(ctx); r != nil {
		r.SetPrincipal(p)
	}
}

// WrapUnary audits unary calls.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		rec := i.open(req.Spec(), req.Peer(), req.Header())
		resp, err := next(callinfo.With(ctx, rec), req)
		i.finish(ctx, req.Spec(), rec, err)
		if err != nil {
			return nil, withRequestID(err, rec.RequestID)
		}
		if resp != nil {
			resp.Header().Set(RequestIDHeader, rec.RequestID)
		}
		return resp, nil
	}
}

// WrapStreamingClient returns next: the interceptor is for handlers only.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler audits streaming calls when they end.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		rec := i.open(conn.Spec(), conn.Peer(), conn.RequestHeader())
		// Response headers go out with the first message, so set the id now.
		conn.ResponseHeader().Set(RequestIDHeader, rec.RequestID)
		err := next(callinfo.With(ctx, rec), conn)
		i.finish(ctx, conn.Spec(), rec, err)
		return err
	}
}

// open starts the record of a call.
func (i *Interceptor) open(spec connect.Spec, peer connect.Peer, h http.Header) *callinfo.Record {
	return &callinfo.Record{
		RequestID:  requestID(h.Get(RequestIDHeader)),
		Procedure:  spec.Procedure,
		SourceAddr: i.proxies.source(peer.Addr, h.Values("X-Forwarded-For")),
		Start:      i.clock.Now(),
	}
}

// finish writes the call's event when it is one to audit.
func (i *Interceptor) finish(ctx context.Context, spec connect.Spec, rec *callinfo.Record, callErr error) {
	code := connect.CodeOf(callErr)
	denied := callErr != nil && (code == connect.CodePermissionDenied || code == connect.CodeUnauthenticated)
	if !denied && (strings.HasPrefix(spec.Procedure, machinePrefix) || !Mutating(spec)) {
		return
	}
	ev := event(rec, callErr, denied)

	// The client may have hung up, but the event must still be stored.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.timeout)
	defer cancel()
	if err := i.q.AuditEventInsert(wctx, ev); err != nil {
		i.log.ErrorContext(ctx, "audit event not stored", slog.Any("error", err),
			slog.String("request_id", ev.RequestID),
			slog.Time("time", ev.Time),
			slog.String("workspace_id", nullUUIDString(ev.WorkspaceID)),
			slog.String("actor", ev.Actor),
			slog.String("actor_kind", ev.ActorKind),
			slog.String("procedure", ev.Procedure),
			slog.String("resource", ev.Resource),
			slog.String("decision", ev.Decision),
			slog.String("reason", ev.Reason),
			slog.String("code", ev.Code),
			slog.String("source_addr", ev.SourceAddr))
	}
}

// event is the row of a finished call. Only a denial's message is kept as
// the reason: other errors may echo request fields, which are not stored.
func event(rec *callinfo.Record, callErr error, denied bool) db.AuditEventInsertParams {
	ev := db.AuditEventInsertParams{
		Time:       rec.Start,
		RequestID:  rec.RequestID,
		Actor:      ActorAnonymous,
		ActorKind:  ActorAnonymous,
		Procedure:  truncate(rec.Procedure, maxProcedureLen),
		Resource:   truncate(rec.Resource(), maxResourceLen),
		Code:       "ok",
		SourceAddr: truncate(rec.SourceAddr, maxAddrLen),
	}
	if p, ok := rec.Principal(); ok {
		ev.WorkspaceID = uuid.NullUUID{UUID: p.WorkspaceID, Valid: p.WorkspaceID != uuid.Nil}
		ev.Actor = truncate(p.Subject, maxActorLen)
		ev.ActorKind = actorKind(p.Kind)
	}
	decision, reason := rec.Decision()
	ev.Decision = string(decision)
	if decision == callinfo.DecisionNone {
		ev.Decision = "none"
	}
	if callErr != nil {
		ev.Code = connect.CodeOf(callErr).String()
		var ce *connect.Error
		if reason == "" && denied && errors.As(callErr, &ce) {
			reason = ce.Message()
		}
	}
	ev.Reason = truncate(reason, maxReasonLen)
	return ev
}

// Mutating reports whether a procedure may change something: whether its
// proto method options declare an idempotency level other than
// NO_SIDE_EFFECTS. A procedure without a descriptor counts as mutating.
func Mutating(spec connect.Spec) bool {
	md, ok := spec.Schema.(protoreflect.MethodDescriptor)
	if !ok {
		return spec.IdempotencyLevel != connect.IdempotencyNoSideEffects
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	return !ok || opts.GetIdempotencyLevel() != descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}

// actorKind names how a principal authenticated.
func actorKind(k auth.Kind) string {
	switch k {
	case auth.KindAPIKey:
		return "api_key"
	case auth.KindAgent:
		return "agent"
	case auth.KindSession:
		return "session"
	}
	if s, ok := any(k).(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("kind_%d", int(k))
}

// requestID returns the client's request id when it is a sane token, else
// a new one.
func requestID(given string) string {
	if validRequestID(given) {
		return given
	}
	return uuid.Must(uuid.NewV7()).String()
}

// validRequestID reports whether s is 1 to 64 letters, digits, '.', '_',
// ':' or '-': safe in a header, a log line and a terminal.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// withRequestID returns err as a Connect error whose metadata carries the
// request id, so the client sees it in the response headers. The error is
// copied, not changed, since a handler may return a shared value.
func withRequestID(err error, id string) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		out := connect.NewError(connect.CodeUnknown, err)
		out.Meta().Set(RequestIDHeader, id)
		return out
	}
	out := connect.NewError(ce.Code(), ce.Unwrap())
	for _, d := range ce.Details() {
		out.AddDetail(d)
	}
	for k, v := range ce.Meta() {
		out.Meta()[k] = v
	}
	out.Meta().Set(RequestIDHeader, id)
	return out
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func nullUUIDString(u uuid.NullUUID) string {
	if !u.Valid {
		return ""
	}
	return u.UUID.String()
}
