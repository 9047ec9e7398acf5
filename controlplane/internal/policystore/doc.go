// Package policystore keeps the Rego policies a workspace adds on top of
// Ferry's built-in authorization and admission policies: it checks uploaded
// Rego, stores immutable versions, tracks which version of each policy is
// active, hands the active modules to the evaluators (through
// [Store.WorkspaceModules], cached by generation) and evaluates dry runs
// that explain a decision.
//
// Composition. A workspace policy extends the built-in policy of its kind
// and can only add denials: it declares package ferry.authz.workspace or
// ferry.admission.workspace ([Kind.Package]) and contributes messages to
// that package's deny set; the built-in policy consults
// data.ferry.authz.workspace.deny (or the admission one) and denies when it
// is not empty. A workspace module cannot define rules in any other package,
// so it cannot replace or weaken a built-in rule.
//
// Restrictions. [Check] parses with the Rego v1 parser and refuses imports
// and data references outside data.ferry and input, and calls of built-in
// functions that reach the network or are not repeatable ([Capabilities]);
// time.now_ns stays allowed. Sources are capped at [MaxSourceBytes] and the
// active policies of a workspace and kind at [MaxActivePolicies].
//
// The package never enforces a decision itself: the authorization
// interceptor and the admission checks do, with the modules it provides.
package policystore
