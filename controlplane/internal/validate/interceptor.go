package validate

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// Interceptor returns a Connect interceptor that checks, with [Message],
// every unary request a handler receives and every message a streaming
// handler receives. An invalid message is answered with
// [connect.CodeInvalidArgument] and the [FieldError] text, before the
// handler sees it. Messages that are not protobuf messages pass unchecked,
// and clients are left alone.
func Interceptor() connect.Interceptor {
	return interceptor{}
}

type interceptor struct{}

// WrapUnary checks the request of a unary handler.
func (interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			if err := check(req.Any()); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves streaming clients alone.
func (interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks each message a streaming handler receives.
func (interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, checkingConn{conn})
	}
}

// checkingConn checks every message received on a handler stream.
type checkingConn struct {
	connect.StreamingHandlerConn
}

// Receive receives the next message and checks it.
func (c checkingConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return check(msg)
}

// check validates msg when it is a protobuf message.
func check(msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	if err := Message(m); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return nil
}
