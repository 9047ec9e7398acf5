package policystore

import "errors"

var (
	// ErrNotFound means the policy or version does not exist in the
	// caller's workspace.
	ErrNotFound = errors.New("policystore: not found")
	// ErrInvalidInput means a request is malformed (a dry-run input that is
	// not a JSON object, a candidate without a name).
	ErrInvalidInput = errors.New("policystore: invalid input")
	// ErrLimit means a limit on policies, versions or active policies would
	// be exceeded.
	ErrLimit = errors.New("policystore: limit exceeded")
)
