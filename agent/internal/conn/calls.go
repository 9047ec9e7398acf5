package conn

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// ClaimRuns claims offered runs. It retries transient failures until ctx
// ends; results are per run.
func (c *Client) ClaimRuns(ctx context.Context, claims []*ferryv1.RunLease) ([]*ferryv1.ClaimResult, error) {
	req := &ferryv1.ClaimRunsRequest{Claims: claims}
	res, err := call(ctx, c, "claim runs", req, &req.SessionId, c.rpc.ClaimRuns)
	if err != nil {
		return nil, err
	}
	return res.GetResults(), nil
}

// ReportStates sends state reports. It retries transient failures until ctx
// ends; results are per run.
func (c *Client) ReportStates(ctx context.Context, reports []*ferryv1.StateReport) ([]*ferryv1.ReportResult, error) {
	req := &ferryv1.ReportStatesRequest{Reports: reports}
	res, err := call(ctx, c, "report states", req, &req.SessionId, c.rpc.ReportStates)
	if err != nil {
		return nil, err
	}
	return res.GetResults(), nil
}

// Heartbeat renews the leases of live runs. It retries transient failures
// until ctx ends. When the control plane answers resubscribe, the client
// opens a new stream on its own; the caller handles lost and cancelled runs.
func (c *Client) Heartbeat(ctx context.Context, live []*ferryv1.RunLease) (*ferryv1.HeartbeatResponse, error) {
	req := &ferryv1.HeartbeatRequest{Live: live, Draining: c.draining.Load()}
	res, err := call(ctx, c, "heartbeat", req, &req.SessionId, c.rpc.Heartbeat)
	if err != nil {
		return nil, err
	}
	if res.GetResubscribe() {
		c.log.InfoContext(ctx, "control plane asked for a new stream")
		c.Resubscribe()
	}
	return res, nil
}

// SendLogs stores log batches. It retries transient failures until ctx ends.
// The response lists the batches whose lease the control plane refused.
func (c *Client) SendLogs(ctx context.Context, batches []*ferryv1.LogBatch) (*ferryv1.SendLogsResponse, error) {
	req := &ferryv1.SendLogsRequest{Batches: batches}
	return call(ctx, c, "send logs", req, &req.SessionId, c.rpc.SendLogs)
}

// GetLogCursors asks how far the stored logs of leased runs go. It retries
// transient failures until ctx ends.
func (c *Client) GetLogCursors(ctx context.Context, leases []*ferryv1.RunLease) ([]*ferryv1.LogCursor, error) {
	req := &ferryv1.GetLogCursorsRequest{Leases: leases}
	res, err := call(ctx, c, "get log cursors", req, &req.SessionId, c.rpc.GetLogCursors)
	if err != nil {
		return nil, err
	}
	return res.GetCursors(), nil
}

// call sends req through fn, setting *session to the current session id
// before each attempt, and retries transient failures with backoff until ctx
// ends. A refused token is final; a refused session makes the client
// resubscribe and the call wait for the new session.
func call[Req, Res any](
	ctx context.Context,
	c *Client,
	what string,
	req *Req,
	session *string,
	fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*Res, error) {
	bo := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for {
		id, err := c.waitSession(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		*session = id
		callCtx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		res, err := fn(callCtx, connect.NewRequest(req))
		cancel()
		if err == nil {
			return res.Msg, nil
		}

		switch {
		case isAuthError(err):
			c.setFatal(err)
			return nil, fmt.Errorf("%s: %w", what, c.fatalErr)
		case connect.CodeOf(err) == connect.CodeFailedPrecondition:
			c.log.InfoContext(ctx, "control plane refused the session", "session_id", id, "error", err)
			c.forgetSession(id)
			c.Resubscribe()
		case !isRetryable(err):
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		delay := bo.next()
		c.log.DebugContext(ctx, "call failed, retrying", "call", what, "error", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", what, err)
		case <-c.fatal:
			return nil, fmt.Errorf("%s: %w", what, c.fatalErr)
		case <-c.clk.After(delay):
		}
	}
}
