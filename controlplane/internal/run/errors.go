package run

import "errors"

// Sentinel errors returned (wrapped) by [Apply] and [ParseState]. Compare with
// [errors.Is].
var (
	// ErrStaleToken means the event's lease token (or, for a claim, its agent)
	// is not the run's current one: the sender has lost the lease or the
	// offer. Token 0 never matches.
	ErrStaleToken = errors.New("run: stale lease token")

	// ErrTerminal means the run, or the attempt the report is about, has
	// already ended, and the event would change that outcome.
	ErrTerminal = errors.New("run: already terminal")

	// ErrNotRetryable means a manual retry was asked for a run that cannot be
	// retried: it completed, or its attempt counter is exhausted.
	ErrNotRetryable = errors.New("run: not retryable")

	// ErrNotTerminal means a manual retry was asked for a run that has not
	// ended yet.
	ErrNotTerminal = errors.New("run: not terminal")

	// ErrInvalidTransition means the event is not allowed in the run's current
	// state, such as a Started report for a run that was never claimed.
	ErrInvalidTransition = errors.New("run: invalid transition")

	// ErrInvalidEvent means the event itself is malformed: an unknown failure
	// kind, a claim without an agent, a user action without an actor.
	ErrInvalidEvent = errors.New("run: invalid event")

	// ErrInvalidSnapshot means the snapshot cannot be a stored run row, such
	// as an attempt number below 1.
	ErrInvalidSnapshot = errors.New("run: invalid snapshot")

	// ErrUnknownState means a string is not one of the run states.
	ErrUnknownState = errors.New("run: unknown state")
)
