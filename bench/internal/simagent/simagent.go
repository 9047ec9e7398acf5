// Package simagent plays ferry agents for the load driver: it speaks
// AgentService to a control plane (Subscribe, ClaimRuns, ReportStates,
// Heartbeat, SendLogs) and launches nothing, so what it measures is the
// control plane alone. It is not a test double of the real agent and must
// never be pointed at a control plane the driver did not start.
package simagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const (
	// MaxClaims is the most claims one ClaimRuns call may carry.
	MaxClaims = 1000
	// MaxReports is the most reports one ReportStates call may carry.
	MaxReports = 1000
	// orderBuffer holds orders the driver has not taken yet, so reading the
	// stream never waits on the driver.
	orderBuffer = 1 << 16
)

// Order is a work order and the time the agent read it from its stream.
type Order struct {
	*ferryv1.WorkOrder
	Received time.Time
}

// Agent is one simulated agent with an open Subscribe stream. Its methods
// are safe for concurrent use.
type Agent struct {
	client ferryv1connect.AgentServiceClient
	// Welcome is the first message of the stream.
	Welcome *ferryv1.Welcome

	orders chan Order
	cancel context.CancelFunc
	done   chan struct{}
	// streamErr is why the stream ended; read after done is closed.
	streamErr error

	cancels         atomic.Int64
	heartbeatErrors atomic.Int64
}

// Subscribe opens the agent's stream and returns once the Welcome arrived.
// The stream stays open until [Agent.Close].
func Subscribe(
	ctx context.Context,
	client ferryv1connect.AgentServiceClient,
	name string,
	capacity int32,
) (*Agent, error) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := client.Subscribe(sctx, connect.NewRequest(&ferryv1.SubscribeRequest{
		Name: name, Version: "bench", Capacity: capacity,
	}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe %s: %w", name, err)
	}
	welcome := make(chan error, 1)
	a := &Agent{client: client, orders: make(chan Order, orderBuffer), cancel: cancel, done: make(chan struct{})}
	go a.read(stream, welcome)
	select {
	case err := <-welcome:
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("subscribe %s: %w", name, err)
		}
		return a, nil
	case <-ctx.Done():
		a.Close()
		return nil, fmt.Errorf("subscribe %s: %w", name, context.Cause(ctx))
	}
}

// read receives the stream's messages until it ends; the first must be the
// Welcome, reported on welcome.
func (a *Agent) read(stream *connect.ServerStreamForClient[ferryv1.SubscribeResponse], welcome chan<- error) {
	defer close(a.done)
	defer close(a.orders)
	defer stream.Close()
	first := true
	for stream.Receive() {
		msg := stream.Msg()
		if first {
			first = false
			a.Welcome = msg.GetWelcome()
			if a.Welcome == nil {
				welcome <- errors.New("first stream message is not a Welcome")
				return
			}
			welcome <- nil
			continue
		}
		switch {
		case msg.GetWorkOrder() != nil:
			a.orders <- Order{WorkOrder: msg.GetWorkOrder(), Received: time.Now()}
		case msg.GetCancelRequest() != nil:
			a.cancels.Add(1)
		}
	}
	a.streamErr = stream.Err()
	if first {
		err := a.streamErr
		if err == nil {
			err = errors.New("stream ended before the Welcome")
		}
		welcome <- err
	}
}

// Orders returns the work orders in arrival order; it is closed when the
// stream ends.
func (a *Agent) Orders() <-chan Order { return a.orders }

// SessionID returns the session id that accompanies the agent's calls.
func (a *Agent) SessionID() string { return a.Welcome.GetSessionId() }

// Cancels returns how many cancel requests arrived on the stream.
func (a *Agent) Cancels() int64 { return a.cancels.Load() }

// HeartbeatErrors returns how many heartbeats of [Agent.Heartbeats] failed.
func (a *Agent) HeartbeatErrors() int64 { return a.heartbeatErrors.Load() }

// Close ends the stream and waits for its reader. It returns why the stream
// ended when that was not the cancellation itself.
func (a *Agent) Close() error {
	a.cancel()
	<-a.done
	if a.streamErr != nil && connect.CodeOf(a.streamErr) != connect.CodeCanceled {
		return a.streamErr
	}
	return nil
}

// Lease returns the lease an order grants once claimed.
func Lease(o *ferryv1.WorkOrder) *ferryv1.RunLease {
	return &ferryv1.RunLease{RunId: o.GetRunId(), Attempt: o.GetAttempt(), LeaseToken: o.GetLeaseToken()}
}

// Claim claims orders, at most [MaxClaims] per call, and returns the leases
// the control plane accepted and how many claims it refused.
func (a *Agent) Claim(ctx context.Context, orders []*ferryv1.WorkOrder) (accepted []*ferryv1.RunLease, refused int, err error) {
	for start := 0; start < len(orders); start += MaxClaims {
		chunk := orders[start:min(start+MaxClaims, len(orders))]
		req := &ferryv1.ClaimRunsRequest{SessionId: a.SessionID()}
		for _, o := range chunk {
			req.Claims = append(req.Claims, Lease(o))
		}
		resp, err := a.client.ClaimRuns(ctx, connect.NewRequest(req))
		if err != nil {
			return accepted, refused, fmt.Errorf("claim %d runs: %w", len(chunk), err)
		}
		for i, r := range resp.Msg.GetResults() {
			if r.GetAccepted() {
				accepted = append(accepted, req.Claims[i])
			} else {
				refused++
			}
		}
	}
	return accepted, refused, nil
}

// Reports returns, for each lease in turn, one report of each kind, in the
// order given; a no-op run is reported STARTED then COMPLETED.
func Reports(leases []*ferryv1.RunLease, kinds ...ferryv1.ReportKind) []*ferryv1.StateReport {
	out := make([]*ferryv1.StateReport, 0, len(leases)*len(kinds))
	for _, l := range leases {
		for _, k := range kinds {
			rep := &ferryv1.StateReport{Lease: l, Kind: k}
			if k == ferryv1.ReportKind_REPORT_KIND_COMPLETED {
				code := int32(0)
				rep.ExitCode = &code
			}
			out = append(out, rep)
		}
	}
	return out
}

// Report sends reports, at most [MaxReports] per call, in order, and
// returns the results aligned with reports.
func (a *Agent) Report(ctx context.Context, reports []*ferryv1.StateReport) ([]*ferryv1.ReportResult, error) {
	results := make([]*ferryv1.ReportResult, 0, len(reports))
	for start := 0; start < len(reports); start += MaxReports {
		chunk := reports[start:min(start+MaxReports, len(reports))]
		resp, err := a.client.ReportStates(ctx, connect.NewRequest(&ferryv1.ReportStatesRequest{
			SessionId: a.SessionID(), Reports: chunk,
		}))
		if err != nil {
			return results, fmt.Errorf("report %d states: %w", len(chunk), err)
		}
		if n := len(resp.Msg.GetResults()); n != len(chunk) {
			return results, fmt.Errorf("report %d states: %d results came back", len(chunk), n)
		}
		results = append(results, resp.Msg.GetResults()...)
	}
	return results, nil
}

// Heartbeat renews the leases of live runs once.
func (a *Agent) Heartbeat(ctx context.Context, live []*ferryv1.RunLease) (*ferryv1.HeartbeatResponse, error) {
	resp, err := a.client.Heartbeat(ctx, connect.NewRequest(&ferryv1.HeartbeatRequest{
		SessionId: a.SessionID(), Live: live,
	}))
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return resp.Msg, nil
}

// Heartbeats sends a heartbeat with live() at the interval the Welcome
// gave, until ctx ends; failures are counted in [Agent.HeartbeatErrors].
func (a *Agent) Heartbeats(ctx context.Context, live func() []*ferryv1.RunLease) {
	every := a.Welcome.GetHeartbeatInterval().AsDuration()
	if every <= 0 {
		every = 10 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := a.Heartbeat(ctx, live()); err != nil && ctx.Err() == nil {
				a.heartbeatErrors.Add(1)
			}
		}
	}
}

// SendLogs stores batches of log lines; a rejected batch is an error.
func (a *Agent) SendLogs(ctx context.Context, batches []*ferryv1.LogBatch) error {
	resp, err := a.client.SendLogs(ctx, connect.NewRequest(&ferryv1.SendLogsRequest{
		SessionId: a.SessionID(), Batches: batches,
	}))
	if err != nil {
		return fmt.Errorf("send %d log batches: %w", len(batches), err)
	}
	if n := len(resp.Msg.GetRejected()); n > 0 {
		return fmt.Errorf("send %d log batches: %d rejected", len(batches), n)
	}
	return nil
}

// LiveSet tracks the runs an agent holds, for its heartbeats. The zero
// value is ready to use; it is safe for concurrent use.
type LiveSet struct {
	mu   sync.Mutex
	runs map[string]*ferryv1.RunLease
}

// Add records leases as live.
func (s *LiveSet) Add(leases []*ferryv1.RunLease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		s.runs = make(map[string]*ferryv1.RunLease)
	}
	for _, l := range leases {
		s.runs[l.GetRunId()] = l
	}
}

// Remove forgets leases.
func (s *LiveSet) Remove(leases []*ferryv1.RunLease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range leases {
		delete(s.runs, l.GetRunId())
	}
}

// List returns the live leases.
func (s *LiveSet) List() []*ferryv1.RunLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*ferryv1.RunLease, 0, len(s.runs))
	for _, l := range s.runs {
		out = append(out, l)
	}
	return out
}
