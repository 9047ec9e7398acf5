// Package run is the run state machine: given a run's current row as a
// [Snapshot] and an [Event], [Apply] decides which state changes to record and
// what the row looks like afterwards.
//
// The package is pure. It never touches the database, never reads the clock
// (the caller passes "now") and never draws random numbers of its own (the
// caller passes a [Rand] for retry jitter). The store layer loads the run row
// FOR UPDATE, calls Apply, then writes [Result.Next] and one history row per
// [Transition] in the same transaction. Nothing else may change a run's state.
//
// Agents are fenced by lease tokens: every claim carries a fresh token, and a
// report whose token is not the run's current one is refused with
// [ErrStaleToken]. A report repeated after it has taken effect is answered as a
// duplicate ([Result.Duplicate]) so that an agent resending after a lost reply
// is not told it failed, while a conflicting report about an attempt that has
// already ended is refused with [ErrTerminal].
//
// The legal edges of the state graph are listed by [Legal]; every transition
// Apply produces is one of them, which lets an invariant checker validate
// stored histories with the same rules.
package run
