// Package authz authorizes every call to the control plane's API with the
// Rego policy in policy/authz (package ferry.authz), evaluated by the
// embedded OPA library.
//
// An [Authorizer] compiles the built-in policy once, and once more for each
// version of a workspace's uploaded modules, into prepared queries. Its
// [Authorizer.Interceptor] runs after authentication: it builds the input
// from the call's principal, procedure and the identifying fields of the
// request, evaluates the decision, records it in the call's
// [callinfo.Record], and answers a denied call with PermissionDenied naming
// the missing permission. It fails closed: a call the policy cannot judge is
// refused.
//
// This package decides; it never authenticates, never reads the database
// itself (workspace modules come through [Options.WorkspaceModules]) and
// never writes the audit trail.
package authz
