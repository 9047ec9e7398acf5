// Package callinfo carries what the control plane learns about one API call
// as it passes the interceptors: who made it, from where, what it touched
// and what was decided. The outermost interceptor puts a [Record] in the
// context; authentication, authorization and handlers fill it in; the audit
// interceptor writes it down when the call ends.
package callinfo

import (
	"context"
	"sync"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
)

// Decision is the authorization outcome of a call.
type Decision string

const (
	// DecisionNone means no authorization decision was reached (the call
	// failed authentication or validation first).
	DecisionNone Decision = ""
	// DecisionAllow means the policy allowed the call.
	DecisionAllow Decision = "allow"
	// DecisionDeny means the policy denied the call.
	DecisionDeny Decision = "deny"
)

// Record describes one call. Its methods are safe for concurrent use.
type Record struct {
	// RequestID identifies the call in logs and in the audit trail.
	RequestID string
	// Procedure is the Connect procedure, such as /ferry.v1.RunService/CreateRun.
	Procedure string
	// SourceAddr is the caller's address as the server saw it.
	SourceAddr string
	// Start is when the call arrived.
	Start time.Time

	mu        sync.Mutex
	principal *auth.Principal
	resource  string
	decision  Decision
	reason    string
}

// SetPrincipal records the authenticated caller.
func (r *Record) SetPrincipal(p auth.Principal) {
	r.mu.Lock()
	r.principal = &p
	r.mu.Unlock()
}

// Principal returns the authenticated caller, if any.
func (r *Record) Principal() (auth.Principal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.principal == nil {
		return auth.Principal{}, false
	}
	return *r.principal, true
}

// SetResource names what the call acts on, such as "run/0190…" or
// "deployment/etl"; handlers set it once they resolve the target.
func (r *Record) SetResource(resource string) {
	r.mu.Lock()
	r.resource = resource
	r.mu.Unlock()
}

// Resource returns what the call acts on.
func (r *Record) Resource() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resource
}

// SetDecision records the authorization outcome and the policy's reason.
func (r *Record) SetDecision(d Decision, reason string) {
	r.mu.Lock()
	r.decision, r.reason = d, reason
	r.mu.Unlock()
}

// Decision returns the authorization outcome and its reason.
func (r *Record) Decision() (Decision, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decision, r.reason
}

type recordKey struct{}

// With returns a context carrying r.
func With(ctx context.Context, r *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// From returns the call's record, or nil outside an API call.
func From(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}
