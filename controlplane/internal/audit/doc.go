// Package audit keeps the control plane's audit trail. Its [Interceptor] is
// the outermost Connect interceptor: it opens the call's [callinfo.Record]
// (request id, source address), lets authentication, authorization and the
// handler fill it in, and when the call ends writes one audit_events row for
// every mutating call and every denied call.
//
// Which calls are written:
//
//   - every call of a procedure whose idempotency level is not
//     NO_SIDE_EFFECTS, as declared in its proto method options;
//   - every call answered PermissionDenied or Unauthenticated, reads
//     included, with the caller "anonymous" when no credential was accepted;
//   - AgentService calls only when denied. Agents heartbeat, report and
//     claim runs many times a second across a fleet; that is machine
//     traffic the runs' own state history already records, and an INSERT on
//     each would put a database round trip on the dispatch path. A refused
//     agent token, or an agent acting outside its pool, is still written.
//
// How they are written: synchronously, one INSERT after the handler returns
// and before the response goes out, under a context that the client
// hanging up does not cancel. A background batch would be cheaper, but it
// loses what is in its buffer when the process dies, and an audit trail
// with holes exactly around a crash cannot show an auditor what happened.
// People's mutating calls are few enough that one INSERT each does not
// matter. When the INSERT fails (the database is down), the call's own
// result stands, since its change is already committed, and the whole event
// is logged at Error level as "audit event not stored", so the log keeps the
// record that the table could not.
//
// The audit trail never holds a request body, a secret, a key or a
// password: only the procedure, the resource's name or id as the handler set
// it, and, for denied calls only, the denial's message, which the server
// writes for clients and never fills with a credential.
//
// Known limitation: a caller without valid credentials costs one INSERT per
// call, and the per-credential rate limit cannot apply to it; a flood of
// bad credentials must be stopped in front of the server (a proxy's rate
// limit by address).
//
// Known limitation: events of unauthenticated calls have no workspace, so
// ListAuditEvents, which is scoped to the caller's workspace, never shows
// them; an operator reads them with SQL (workspace_id IS NULL).
package audit
