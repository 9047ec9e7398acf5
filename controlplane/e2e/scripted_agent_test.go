package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// scriptedAgent speaks the agent protocol under the test's control: it
// holds a Subscribe stream, sorts what arrives, and makes each unary call
// when the test says so.
type scriptedAgent struct {
	client  ferryv1connect.AgentServiceClient
	welcome *ferryv1.Welcome
	orders  chan *ferryv1.WorkOrder
	cancels chan *ferryv1.CancelRequest
	// ended receives the stream's error (nil for a clean end) once.
	ended chan error
	stop  context.CancelFunc
}

// connectAgent subscribes an agent named name with token and waits for its
// welcome. The stream is closed at cleanup.
func (p *plane) connectAgent(t *testing.T, token, name string, capacity int32) *scriptedAgent {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	a := &scriptedAgent{
		client:  ferryv1connect.NewAgentServiceClient(p.http, p.url, connect.WithInterceptors(bearer(token))),
		orders:  make(chan *ferryv1.WorkOrder, 1000),
		cancels: make(chan *ferryv1.CancelRequest, 1000),
		ended:   make(chan error, 1),
		stop:    stop,
	}
	stream, err := a.client.Subscribe(ctx, connect.NewRequest(&ferryv1.SubscribeRequest{Name: name, Capacity: capacity, Version: "e2e"}))
	if err != nil {
		stop()
		t.Fatalf("subscribe: %v", err)
	}
	welcomed := make(chan *ferryv1.Welcome, 1)
	go func() {
		for stream.Receive() {
			switch m := stream.Msg().GetMessage().(type) {
			case *ferryv1.SubscribeResponse_Welcome:
				welcomed <- m.Welcome
			case *ferryv1.SubscribeResponse_WorkOrder:
				a.orders <- m.WorkOrder
			case *ferryv1.SubscribeResponse_CancelRequest:
				a.cancels <- m.CancelRequest
			}
		}
		a.ended <- stream.Err()
		stream.Close()
	}()
	t.Cleanup(stop)
	select {
	case a.welcome = <-welcomed:
	case err := <-a.ended:
		t.Fatalf("stream ended before the welcome: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("no welcome")
	}
	return a
}

// session returns the session id of the agent's stream.
func (a *scriptedAgent) session() string { return a.welcome.GetSessionId() }

// nextOrder waits for the next work order.
func (a *scriptedAgent) nextOrder(t *testing.T) *ferryv1.WorkOrder {
	t.Helper()
	select {
	case o := <-a.orders:
		return o
	case err := <-a.ended:
		t.Fatalf("stream ended while waiting for a work order: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("no work order arrived")
	}
	return nil
}

// nextCancel waits for the next cancel request.
func (a *scriptedAgent) nextCancel(t *testing.T) *ferryv1.CancelRequest {
	t.Helper()
	select {
	case c := <-a.cancels:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no cancel request arrived")
	}
	return nil
}

// lease names the attempt an order offers.
func lease(o *ferryv1.WorkOrder) *ferryv1.RunLease {
	return &ferryv1.RunLease{RunId: o.GetRunId(), Attempt: o.GetAttempt(), LeaseToken: o.GetLeaseToken()}
}

// claim claims the orders' runs and returns one result per order.
func (a *scriptedAgent) claim(t *testing.T, orders ...*ferryv1.WorkOrder) []*ferryv1.ClaimResult {
	t.Helper()
	req := &ferryv1.ClaimRunsRequest{SessionId: a.session()}
	for _, o := range orders {
		req.Claims = append(req.Claims, lease(o))
	}
	resp, err := a.client.ClaimRuns(callCtx(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("claim runs: %v", err)
	}
	if got := len(resp.Msg.GetResults()); got != len(orders) {
		t.Fatalf("claim runs: %d results for %d claims", got, len(orders))
	}
	return resp.Msg.GetResults()
}

// mustClaim claims one order and fails the test unless it was accepted.
func (a *scriptedAgent) mustClaim(t *testing.T, o *ferryv1.WorkOrder) {
	t.Helper()
	if r := a.claim(t, o)[0]; !r.GetAccepted() {
		t.Fatalf("claim of run %s refused: %s", o.GetRunId(), r.GetReason())
	}
}

// report sends one state report and returns its result.
func (a *scriptedAgent) report(t *testing.T, l *ferryv1.RunLease, kind ferryv1.ReportKind, exitCode *int32) *ferryv1.ReportResult {
	t.Helper()
	resp, err := a.client.ReportStates(callCtx(t), connect.NewRequest(&ferryv1.ReportStatesRequest{
		SessionId: a.session(),
		Reports:   []*ferryv1.StateReport{{Lease: l, Kind: kind, ExitCode: exitCode, Message: "reported by the e2e test"}},
	}))
	if err != nil {
		t.Fatalf("report %v: %v", kind, err)
	}
	return resp.Msg.GetResults()[0]
}

// mustReport sends a report and fails the test unless it was accepted.
func (a *scriptedAgent) mustReport(t *testing.T, l *ferryv1.RunLease, kind ferryv1.ReportKind, exitCode *int32) {
	t.Helper()
	if r := a.report(t, l, kind, exitCode); !r.GetAccepted() {
		t.Fatalf("report %v of run %s refused: %s", kind, l.GetRunId(), r.GetReason())
	}
}

// heartbeat renews the leases of live.
func (a *scriptedAgent) heartbeat(t *testing.T, live ...*ferryv1.RunLease) *ferryv1.HeartbeatResponse {
	t.Helper()
	resp, err := a.client.Heartbeat(callCtx(t), connect.NewRequest(&ferryv1.HeartbeatRequest{SessionId: a.session(), Live: live}))
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	return resp.Msg
}

// sendLogs sends texts as stdout lines numbered from first.
func (a *scriptedAgent) sendLogs(t *testing.T, l *ferryv1.RunLease, first int64, texts ...string) *ferryv1.SendLogsResponse {
	t.Helper()
	batch := &ferryv1.LogBatch{Lease: l}
	for i, text := range texts {
		batch.Lines = append(batch.Lines, &ferryv1.AgentLogLine{
			Seq: first + int64(i), Stream: ferryv1.LogStream_LOG_STREAM_STDOUT, Text: text, Time: timestamppb.Now(),
		})
	}
	resp, err := a.client.SendLogs(callCtx(t), connect.NewRequest(&ferryv1.SendLogsRequest{
		SessionId: a.session(), Batches: []*ferryv1.LogBatch{batch},
	}))
	if err != nil {
		t.Fatalf("send logs: %v", err)
	}
	return resp.Msg
}

// exit returns a pointer to code, for reports.
func exit(code int32) *int32 { return &code }

// orderFor waits for an order for run id, skipping orders of other runs.
func (a *scriptedAgent) orderFor(t *testing.T, id string) *ferryv1.WorkOrder {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case o := <-a.orders:
			if o.GetRunId() == id {
				return o
			}
		case err := <-a.ended:
			t.Fatalf("stream ended while waiting for run %s: %v", id, err)
		case <-deadline:
			t.Fatalf("no work order for run %s", id)
		}
	}
}

// errCode returns err's Connect code, or an error naming what err is.
func errCode(err error) (connect.Code, error) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return 0, fmt.Errorf("not a Connect error: %v", err)
	}
	return ce.Code(), nil
}
