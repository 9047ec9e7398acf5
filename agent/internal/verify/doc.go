// Package verify checks the signatures of the work orders the control plane
// sends to ferry-agent. A [Verifier] trusts a set of Ed25519 public keys,
// read from the agent's trusted-keys file ([ParseTrustedKeys]), and refuses
// any order that is unsigned, signed with a key it does not trust, altered,
// issued to another agent, expired, or replayed.
//
// The agent acts only on the [ferryv1.SignedOrder] that [Verifier.Verify]
// returns, never on the clear fields of the work order. verify never talks
// to the control plane: what it trusts is decided by the agent's operator.
package verify
