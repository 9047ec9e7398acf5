// Package policy evaluates the agent's local Rego policy on a work order
// before anything is launched. The policy is the built-in one in
// policy/agent (package ferry.agent), optionally extended by customer files
// or replaced by a customer directory; the control plane can change none of
// them, so the customer keeps the last word on what runs on its hosts.
//
// A [Policy] is compiled once by [New] and evaluated per order by
// [Policy.Evaluate]. Evaluation fails closed: an order the policy cannot
// judge is denied.
//
// This is the only agent package that imports OPA; it never talks to the
// control plane and never launches anything.
package policy
