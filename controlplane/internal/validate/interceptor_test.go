package validate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// runService answers GetRun and WatchRun and counts the calls that reached it.
type runService struct {
	ferryv1connect.UnimplementedRunServiceHandler
	calls atomic.Int32
}

func (s *runService) GetRun(_ context.Context, req *connect.Request[ferryv1.GetRunRequest]) (*connect.Response[ferryv1.GetRunResponse], error) {
	s.calls.Add(1)
	return connect.NewResponse(&ferryv1.GetRunResponse{Run: &ferryv1.Run{Id: req.Msg.GetId()}}), nil
}

func (s *runService) WatchRun(_ context.Context, req *connect.Request[ferryv1.WatchRunRequest], stream *connect.ServerStream[ferryv1.WatchRunResponse]) error {
	s.calls.Add(1)
	return stream.Send(&ferryv1.WatchRunResponse{Run: &ferryv1.Run{Id: req.Msg.GetId()}})
}

const (
	batchProcedure = "/ferry.validatetest.Batches/Send"
	invalidIDText  = "id: " + uuidReason
)

// setup starts a loopback HTTP/2 server with the validating interceptor: the
// run service, and a client-streaming procedure that counts the messages its
// handler received.
func setup(t *testing.T) (*runService, *atomic.Int32, *httptest.Server) {
	t.Helper()
	svc := &runService{}
	received := &atomic.Int32{}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewRunServiceHandler(svc, connect.WithInterceptors(Interceptor())))
	mux.Handle(batchProcedure, connect.NewClientStreamHandler(
		batchProcedure,
		func(_ context.Context, stream *connect.ClientStream[ferryv1.GetRunRequest]) (*connect.Response[ferryv1.GetRunResponse], error) {
			for stream.Receive() {
				received.Add(1)
			}
			if err := stream.Err(); err != nil {
				return nil, err
			}
			return connect.NewResponse(&ferryv1.GetRunResponse{}), nil
		},
		connect.WithInterceptors(Interceptor()),
	))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return svc, received, srv
}

func TestInterceptorUnary(t *testing.T) {
	t.Parallel()
	svc, _, srv := setup(t)
	protocols := []struct {
		name string
		opts []connect.ClientOption
	}{
		{name: "connect"},
		{name: "grpc", opts: []connect.ClientOption{connect.WithGRPC()}},
		{name: "connect json", opts: []connect.ClientOption{connect.WithProtoJSON()}},
	}
	// Subtests run in order: each counts the handler calls it caused.
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			client := ferryv1connect.NewRunServiceClient(srv.Client(), srv.URL, p.opts...)
			before := svc.calls.Load()

			resp, err := client.GetRun(t.Context(), connect.NewRequest(&ferryv1.GetRunRequest{Id: runID}))
			if err != nil {
				t.Fatalf("GetRun(valid): %v", err)
			}
			if got := resp.Msg.GetRun().GetId(); got != runID {
				t.Errorf("GetRun returned run %q, want %q", got, runID)
			}

			_, err = client.GetRun(t.Context(), connect.NewRequest(&ferryv1.GetRunRequest{Id: "RUN-1"}))
			checkInvalid(t, err, invalidIDText)
			if got := svc.calls.Load() - before; got != 1 {
				t.Errorf("handler ran %d times, want 1 (only for the valid request)", got)
			}
		})
	}
}

func TestInterceptorServerStream(t *testing.T) {
	t.Parallel()
	svc, _, srv := setup(t)
	client := ferryv1connect.NewRunServiceClient(srv.Client(), srv.URL)

	stream, err := client.WatchRun(t.Context(), connect.NewRequest(&ferryv1.WatchRunRequest{Id: runID}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("WatchRun(valid) sent nothing: %v", stream.Err())
	}
	stream.Close()

	stream, err = client.WatchRun(t.Context(), connect.NewRequest(&ferryv1.WatchRunRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if stream.Receive() {
		t.Fatalf("WatchRun(missing id) sent %v", stream.Msg())
	}
	checkInvalid(t, stream.Err(), "id: is required")
	stream.Close()
	if got := svc.calls.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
}

func TestInterceptorClientStream(t *testing.T) {
	t.Parallel()
	_, received, srv := setup(t)
	client := connect.NewClient[ferryv1.GetRunRequest, ferryv1.GetRunResponse](srv.Client(), srv.URL+batchProcedure)

	stream := client.CallClientStream(t.Context())
	for _, id := range []string{runID, runID, "not-a-uuid", runID} {
		// Send fails with io.EOF once the server has answered; then
		// CloseAndReceive reports the answer.
		if err := stream.Send(&ferryv1.GetRunRequest{Id: id}); err != nil {
			break
		}
	}
	_, err := stream.CloseAndReceive()
	checkInvalid(t, err, invalidIDText)
	if got := received.Load(); got != 2 {
		t.Errorf("handler received %d messages, want the 2 before the invalid one", got)
	}
}

func checkInvalid(t *testing.T, err error, wantMessage string) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error = %v, want a *connect.Error", err)
	}
	if cerr.Code() != connect.CodeInvalidArgument || cerr.Message() != wantMessage {
		t.Errorf("error = %s %q, want %s %q", cerr.Code(), cerr.Message(), connect.CodeInvalidArgument, wantMessage)
	}
}
