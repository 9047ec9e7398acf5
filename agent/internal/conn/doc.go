// Package conn is the agent's connection to the control plane.
//
// A [Client] holds one Subscribe stream open and hands the work orders and
// cancel requests that arrive on it to the agent through [Client.Events]. It
// reconnects with capped exponential backoff and full jitter when the stream
// fails or goes silent for three keepalive intervals, and when the control
// plane asks for it (a heartbeat answered with resubscribe). Everything the
// agent says goes through unary calls ([Client.ClaimRuns],
// [Client.ReportStates], [Client.Heartbeat], [Client.SendLogs]), each sent
// with the current session id and retried with backoff on transient errors.
//
// Every request carries the agent token as a bearer token. A plain http://
// URL is refused unless its host is loopback or the caller opts in, so the
// token never crosses a network in clear text by accident. When the control
// plane rejects the token (Unauthenticated or PermissionDenied), the client
// stops: [Client.Run] and every call return an error wrapping
// [ErrUnauthorized], and the agent must exit rather than retry.
//
// A call answered FailedPrecondition is taken to mean that the control plane
// no longer knows the session: the client opens a new stream and retries the
// call with the new session id.
//
// This package knows nothing about runs; it never launches or stops anything.
package conn
