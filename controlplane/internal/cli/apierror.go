package cli

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// apiError is a failed call explained for a person. It unwraps to the
// *connect.Error, so callers can still branch on the code.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }

func (e *apiError) Unwrap() error { return e.err }

// explain turns the error of a call made to do action ("list runs") into a
// message a person can act on.
func (c *client) explain(action string, err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", action, err)
	}
	wire := connect.IsWireError(err)
	var msg string
	switch code := ce.Code(); {
	case code == connect.CodeUnauthenticated && !c.keyGiven:
		msg = "no API key: set FERRY_API_KEY or --api-key" + c.keyFileHint()
	case code == connect.CodeUnauthenticated:
		msg = "the server refused the API key: set FERRY_API_KEY or --api-key" + c.keyFileHint()
	case code == connect.CodeUnavailable && !wire:
		msg = fmt.Sprintf("cannot reach the Ferry server at %s: is `ferry server` running? (%s)", c.server, ce.Message())
	case code == connect.CodeDeadlineExceeded && !wire:
		msg = fmt.Sprintf("%s: the Ferry server at %s did not answer in time", action, c.server)
	case code == connect.CodeCanceled && !wire:
		msg = fmt.Sprintf("%s: interrupted", action)
	case code == connect.CodeUnavailable:
		msg = fmt.Sprintf("%s: the server is unavailable, try again shortly: %s", action, ce.Message())
	case code == connect.CodePermissionDenied:
		msg = fmt.Sprintf("%s: permission denied: %s", action, ce.Message())
	case code == connect.CodeUnimplemented:
		msg = fmt.Sprintf("%s: the server at %s does not support this call (is it an older version?): %s", action, c.server, ce.Message())
	case code == connect.CodeInternal, code == connect.CodeUnknown, code == connect.CodeDataLoss:
		msg = fmt.Sprintf("%s: the server failed: %s", action, ce.Message())
	default:
		// InvalidArgument, NotFound, FailedPrecondition, AlreadyExists and
		// the like carry a message written for the user.
		msg = fmt.Sprintf("%s: %s", action, ce.Message())
	}
	return &apiError{msg: msg, err: err}
}

// keyFileHint says where ferry server saved the admin key, when known.
func (c *client) keyFileHint() string {
	if c.keyFilePath == "" {
		return " (the first start of `ferry server` saves an admin key in <data-dir>/" + apiKeyFileName + ")"
	}
	return " (the first start of `ferry server` saved an admin key in " + c.keyFilePath + ")"
}
