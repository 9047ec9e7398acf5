// Package limits enforces concurrency limits and explains why runs wait.
//
// A limit caps how many runs of a scope are active at once: a work pool, a
// work queue, a deployment, or a named limit (a tag selector, or a name a
// deployment lists). A run is active while it is PENDING, RUNNING or
// CANCELLING, or SCHEDULED under a live offer. Slots are never stored: they
// are counted from the runs table each time an offer or a claim is decided,
// so a slot is free again the moment its run ends and nothing can leak.
//
// Counting alone does not make a limit exact: two transactions that each
// count 0 of 1 slots in use, each in its own snapshot, would both go ahead.
// [Offer] and [AdmitClaims] therefore lock the rows that carry the limits
// concerned (pool, queues, deployment controls, named limits, in that order
// and by id within each, so two transactions never deadlock) and count in a
// later statement, which under READ COMMITTED sees everything committed by
// the transactions that held the locks before. FOR UPDATE SKIP LOCKED on the
// runs themselves only keeps two dispatchers from offering the same run; it
// serialises nothing about the count.
//
// The package never talks to agents: the dispatcher pushes what [Offer]
// returns, and the agent API answers the claims [AdmitClaims] refuses.
package limits
