package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dispatch"
	"github.com/ferryhq/ferry/controlplane/internal/limits"
	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// AgentServer implements ferry.v1.AgentService.
type AgentServer struct {
	Store   *store.Store
	Clock   clock.Clock
	Log     *slog.Logger
	Hub     *dispatch.Hub
	Applier *transition.Applier
	// HeartbeatInterval is how often agents must renew their leases.
	HeartbeatInterval time.Duration
	// KeepaliveInterval is how often an idle stream carries a keepalive.
	KeepaliveInterval time.Duration
}

// Subscribe registers the agent and streams work orders and cancel requests.
func (s *AgentServer) Subscribe(ctx context.Context, req *connect.Request[ferryv1.SubscribeRequest], stream *connect.ServerStream[ferryv1.SubscribeResponse]) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	m := req.Msg
	now := s.Clock.Now()
	pool, err := s.Store.Q.WorkPoolGet(ctx, p.PoolID)
	if err != nil {
		return errInternal(ctx, s.Log, "subscribe", fmt.Errorf("read pool: %w", err))
	}
	agent, err := s.Store.Q.AgentUpsertSession(ctx, db.AgentUpsertSessionParams{
		ID: uuid.New(), WorkspaceID: p.WorkspaceID, PoolID: p.PoolID, Name: m.GetName(),
		Version: m.GetVersion(), Capacity: m.GetCapacity(), SessionID: uuid.New(),
		TokenID: p.CredentialID, Draining: m.GetDraining(), Now: now,
	})
	if err != nil {
		return errInternal(ctx, s.Log, "subscribe", fmt.Errorf("register agent: %w", err))
	}
	log := s.Log.With(slog.String("agent_id", agent.ID.String()), slog.String("session_id", agent.SessionID.String()))
	sess := dispatch.NewSession(agent.SessionID, agent.ID, p.PoolID, p.WorkspaceID, agent.Capacity, agent.Draining)
	sess.TokenID = p.CredentialID
	welcome := &ferryv1.Welcome{
		AgentId: agent.ID.String(), SessionId: agent.SessionID.String(), Pool: pool.Name, PoolType: pool.Type,
		HeartbeatInterval: durationpb.New(s.HeartbeatInterval),
		LeaseDuration:     durationpb.New(s.Applier.LeaseDuration),
		KeepaliveInterval: durationpb.New(s.KeepaliveInterval),
	}
	if err := stream.Send(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_Welcome{Welcome: welcome}}); err != nil {
		return err
	}
	s.Hub.Register(sess)
	log.InfoContext(ctx, "agent connected", slog.String("agent_name", agent.Name), slog.Int("capacity", int(agent.Capacity)))
	defer func() {
		s.Hub.Unregister(sess)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.Store.Q.AgentDisconnect(dctx, db.AgentDisconnectParams{SessionID: agent.SessionID, Now: s.Clock.Now()}); err != nil {
			log.WarnContext(dctx, "record agent disconnect", slog.Any("error", err))
		}
		// Orders pushed into this stream may never have arrived: withdraw
		// them so other agents can take the runs now. A newer session of the
		// same agent has offers of its own, which must stay.
		select {
		case <-sess.Replaced:
		default:
			if err := s.releaseOffers(dctx, agent.ID); err != nil {
				log.WarnContext(dctx, "withdraw offers of a closed stream", slog.Any("error", err))
			}
		}
		log.InfoContext(dctx, "agent disconnected")
	}()
	// A revocation that committed before the session registered was not
	// seen by the hub; one committed after it ends the stream through
	// Revoked.
	if err := s.tokenLive(ctx, p); err != nil {
		return err
	}
	// Cancels requested while the agent was away.
	cancels, err := dispatch.CancelRequests(ctx, s.Store.Q, agent.ID)
	if err != nil {
		return errInternal(ctx, s.Log, "subscribe", err)
	}
	for _, c := range cancels {
		if err := stream.Send(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_CancelRequest{CancelRequest: c}}); err != nil {
			return err
		}
	}
	keepalive := time.NewTicker(s.KeepaliveInterval)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sess.Replaced:
			return connect.NewError(connect.CodeAborted, errors.New("a newer session of this agent replaced this stream"))
		case <-sess.Revoked:
			log.InfoContext(ctx, "agent token revoked; closing the stream")
			return errTokenRevoked
		case msg := <-sess.Out:
			if err := stream.Send(msg); err != nil {
				return err
			}
		case <-keepalive.C:
			ka := &ferryv1.Keepalive{Time: timestamppb.New(s.Clock.Now())}
			if err := stream.Send(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_Keepalive{Keepalive: ka}}); err != nil {
				return err
			}
		}
	}
}

// errTokenRevoked ends the stream of an agent whose token was revoked.
var errTokenRevoked = connect.NewError(connect.CodeUnauthenticated, errors.New("the agent token was revoked"))

// tokenLive checks in the database that the agent token of p is not
// revoked.
func (s *AgentServer) tokenLive(ctx context.Context, p auth.Principal) error {
	tokens, err := s.Store.Q.AgentTokenList(ctx, p.PoolID)
	if err != nil {
		return errInternal(ctx, s.Log, "subscribe", fmt.Errorf("read agent tokens: %w", err))
	}
	for _, t := range tokens {
		if t.ID == p.CredentialID && t.RevokeTime == nil {
			return nil
		}
	}
	return errTokenRevoked
}

func (s *AgentServer) releaseOffers(ctx context.Context, agentID uuid.UUID) error {
	return s.Store.Tx(ctx, func(q db.Querier) error {
		released, err := q.RunReleaseOffers(ctx, db.RunReleaseOffersParams{Now: s.Clock.Now(), AgentID: agentID})
		if err != nil || len(released) == 0 {
			return err
		}
		pools := make(map[uuid.UUID]bool)
		for _, r := range released {
			pools[r.PoolID] = true
		}
		ids := make([]uuid.UUID, 0, len(pools))
		for id := range pools {
			ids = append(ids, id)
		}
		return transition.Notify(ctx, q, transition.ChannelDispatch, ids)
	})
}

// session resolves the agent of a unary call and checks it belongs to the
// token's pool.
func (s *AgentServer) session(ctx context.Context, p auth.Principal, id string) (db.Agent, error) {
	sid, err := uuid.Parse(id)
	if err != nil {
		return db.Agent{}, errInvalid("session_id", "not a UUID")
	}
	agent, err := s.Store.Q.AgentGetBySession(ctx, sid)
	if store.IsNotFound(err) || (err == nil && agent.PoolID != p.PoolID) {
		return db.Agent{}, connect.NewError(connect.CodeFailedPrecondition, errors.New("unknown or replaced session: subscribe again"))
	}
	if err != nil {
		return db.Agent{}, errInternal(ctx, s.Log, "resolve agent session", err)
	}
	return agent, nil
}

func poolFilter(poolID uuid.UUID) func(db.Run) bool {
	return func(r db.Run) bool { return r.PoolID == poolID }
}

// leaseFilter admits the runs of a pool that are leased to the agent or to
// no agent at all (a report repeated after the run ended); a run leased to
// another agent of the pool counts as not found.
func leaseFilter(poolID, agentID uuid.UUID) func(db.Run) bool {
	return func(r db.Run) bool {
		return r.PoolID == poolID && (!r.AgentID.Valid || r.AgentID.UUID == agentID)
	}
}

// ClaimRuns moves offered runs to PENDING under a lease.
func (s *AgentServer) ClaimRuns(ctx context.Context, req *connect.Request[ferryv1.ClaimRunsRequest]) (*connect.Response[ferryv1.ClaimRunsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	agent, err := s.session(ctx, p, req.Msg.GetSessionId())
	if err != nil {
		return nil, err
	}
	reqs := make([]transition.Request, 0, len(req.Msg.GetClaims()))
	claims := make([]limits.Claim, 0, len(req.Msg.GetClaims()))
	for i, c := range req.Msg.GetClaims() {
		id, err := uuid.Parse(c.GetRunId())
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("claims[%d].run_id", i), "not a UUID")
		}
		reqs = append(reqs, transition.Request{RunID: id, Event: run.Claim{AgentID: agent.ID.String(), Token: c.GetLeaseToken()}})
		claims = append(claims, limits.Claim{RunID: id, Token: c.GetLeaseToken()})
	}
	now := s.Clock.Now()
	var (
		outcomes []transition.Outcome
		refused  map[uuid.UUID]*limits.FullError
	)
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		// The limits are checked again under their locks, which stay held
		// while the claims are applied: an offer that lapsed may have lost
		// its slot to another run.
		var err error
		refused, err = limits.AdmitClaims(ctx, q, agent.ID, claims, now)
		if err != nil {
			return err
		}
		admitted := reqs
		if len(refused) > 0 {
			admitted = make([]transition.Request, 0, len(reqs))
			for _, r := range reqs {
				if refused[r.RunID] == nil {
					admitted = append(admitted, r)
				}
			}
		}
		outcomes, err = s.Applier.Apply(ctx, q, now, admitted, poolFilter(p.PoolID))
		return err
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "claim runs", err)
	}
	if len(refused) > 0 {
		// Answer in the order of the claims, as Apply does.
		applied := outcomes
		outcomes = make([]transition.Outcome, 0, len(reqs))
		for _, r := range reqs {
			if full := refused[r.RunID]; full != nil {
				outcomes = append(outcomes, transition.Outcome{Request: r, Err: full})
				continue
			}
			outcomes = append(outcomes, applied[0])
			applied = applied[1:]
		}
	}
	resp := &ferryv1.ClaimRunsResponse{}
	for _, o := range outcomes {
		r := &ferryv1.ClaimResult{RunId: o.Request.RunID.String()}
		switch {
		case o.Err != nil:
			r.Reason = claimRefusal(o.Err)
		default:
			r.Accepted = true
			if o.Row.LeaseExpireTime != nil {
				r.LeaseExpireTime = timestamppb.New(*o.Row.LeaseExpireTime)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return connect.NewResponse(resp), nil
}

func claimRefusal(err error) string {
	switch {
	case errors.Is(err, transition.ErrNoRun):
		return "no such run in this pool"
	case errors.Is(err, run.ErrStaleToken):
		return "the offer expired or went to another agent"
	case errors.Is(err, run.ErrTerminal):
		return "the run already ended"
	case errors.Is(err, limits.ErrFull):
		return "a concurrency limit of the run is full; the offer lapsed or the limit was lowered"
	}
	return err.Error()
}

// ReportStates applies the agent's reports about its runs.
func (s *AgentServer) ReportStates(ctx context.Context, req *connect.Request[ferryv1.ReportStatesRequest]) (*connect.Response[ferryv1.ReportStatesResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	agent, err := s.session(ctx, p, req.Msg.GetSessionId())
	if err != nil {
		return nil, err
	}
	reqs := make([]transition.Request, 0, len(req.Msg.GetReports()))
	for i, rep := range req.Msg.GetReports() {
		id, err := uuid.Parse(rep.GetLease().GetRunId())
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("reports[%d].lease.run_id", i), "not a UUID")
		}
		ev, err := reportEvent(rep)
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("reports[%d].kind", i), "%v", err)
		}
		reqs = append(reqs, transition.Request{RunID: id, Event: ev, InfrastructureID: rep.GetInfrastructureId()})
	}
	now := s.Clock.Now()
	var outcomes []transition.Outcome
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		var err error
		outcomes, err = s.Applier.Apply(ctx, q, now, reqs, leaseFilter(p.PoolID, agent.ID))
		return err
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "report states", err)
	}
	resp := &ferryv1.ReportStatesResponse{}
	for _, o := range outcomes {
		r := &ferryv1.ReportResult{RunId: o.Request.RunID.String()}
		switch {
		case o.Err != nil:
			r.Reason = claimRefusal(o.Err)
			// The agent no longer holds this run: it must stop it.
			r.Stop = errors.Is(o.Err, run.ErrStaleToken) || errors.Is(o.Err, run.ErrTerminal) || errors.Is(o.Err, transition.ErrNoRun)
		default:
			r.Accepted = true
			r.Duplicate = o.Result.Duplicate
			r.Stop = o.Row.State == string(run.StateCancelling)
		}
		resp.Results = append(resp.Results, r)
	}
	return connect.NewResponse(resp), nil
}

func reportEvent(rep *ferryv1.StateReport) (run.Event, error) {
	tok := rep.GetLease().GetLeaseToken()
	msg := rep.GetMessage()
	switch rep.GetKind() {
	case ferryv1.ReportKind_REPORT_KIND_STARTED:
		return run.Started{Token: tok}, nil
	case ferryv1.ReportKind_REPORT_KIND_COMPLETED:
		return run.Completed{Token: tok, ExitCode: rep.GetExitCode()}, nil
	case ferryv1.ReportKind_REPORT_KIND_FAILED:
		return run.Failed{Token: tok, ExitCode: rep.ExitCode, Message: msg, Kind: run.FailureFailed}, nil
	case ferryv1.ReportKind_REPORT_KIND_TIMED_OUT:
		return run.Failed{Token: tok, ExitCode: rep.ExitCode, Message: msg, Kind: run.FailureTimedOut}, nil
	case ferryv1.ReportKind_REPORT_KIND_REJECTED:
		return run.Failed{Token: tok, ExitCode: rep.ExitCode, Message: msg, Kind: run.FailureRejected}, nil
	case ferryv1.ReportKind_REPORT_KIND_CRASHED:
		return run.Crashed{Token: tok, Message: msg}, nil
	case ferryv1.ReportKind_REPORT_KIND_CANCELLED:
		return run.Cancelled{Token: tok, Message: msg}, nil
	}
	return nil, fmt.Errorf("unknown report kind %v", rep.GetKind())
}

// Heartbeat renews the leases the agent still holds and reconciles.
func (s *AgentServer) Heartbeat(ctx context.Context, req *connect.Request[ferryv1.HeartbeatRequest]) (*connect.Response[ferryv1.HeartbeatResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	resp := &ferryv1.HeartbeatResponse{}
	sid, err := uuid.Parse(req.Msg.GetSessionId())
	if err != nil {
		return nil, errInvalid("session_id", "not a UUID")
	}
	now := s.Clock.Now()
	agent, err := s.Store.Q.AgentHeartbeat(ctx, db.AgentHeartbeatParams{SessionID: sid, Now: now, Draining: req.Msg.GetDraining()})
	switch {
	case store.IsNotFound(err) || (err == nil && agent.PoolID != p.PoolID):
		// The session was replaced: the agent must subscribe again, and its
		// runs are renewed once it has.
		resp.Resubscribe = true
		resp.Lost = nil
		return connect.NewResponse(resp), nil
	case err != nil:
		return nil, errInternal(ctx, s.Log, "heartbeat", err)
	}
	if agent.DisconnectTime != nil {
		resp.Resubscribe = true
	}
	live := req.Msg.GetLive()
	ids := make([]uuid.UUID, 0, len(live))
	tokens := make([]int64, 0, len(live))
	for i, l := range live {
		id, err := uuid.Parse(l.GetRunId())
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("live[%d].run_id", i), "not a UUID")
		}
		ids = append(ids, id)
		tokens = append(tokens, l.GetLeaseToken())
	}
	exp := now.Add(s.Applier.LeaseDuration)
	renewed, err := s.Store.Q.RunRenewLeases(ctx, db.RunRenewLeasesParams{
		LeaseExpireTime: &exp, Ids: ids, LeaseTokens: tokens, AgentID: agent.ID,
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "heartbeat", err)
	}
	kept := make(map[uuid.UUID]db.RunRenewLeasesRow, len(renewed))
	for _, r := range renewed {
		kept[r.ID] = r
	}
	for _, l := range live {
		id, _ := uuid.Parse(l.GetRunId())
		r, ok := kept[id]
		if !ok {
			resp.Lost = append(resp.Lost, l)
			continue
		}
		if r.State == string(run.StateCancelling) {
			resp.Cancel = append(resp.Cancel, &ferryv1.CancelRequest{RunId: l.GetRunId(), Attempt: r.Attempt, LeaseToken: r.LeaseToken})
		}
	}
	resp.LeaseExpireTime = timestamppb.New(exp)
	return connect.NewResponse(resp), nil
}

// SendLogs stores log batches; lines already stored are skipped.
func (s *AgentServer) SendLogs(ctx context.Context, req *connect.Request[ferryv1.SendLogsRequest]) (*connect.Response[ferryv1.SendLogsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	agent, err := s.session(ctx, p, req.Msg.GetSessionId())
	if err != nil {
		return nil, err
	}
	batches := req.Msg.GetBatches()
	ids := make([]uuid.UUID, 0, len(batches))
	for i, b := range batches {
		id, err := uuid.Parse(b.GetLease().GetRunId())
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("batches[%d].lease.run_id", i), "not a UUID")
		}
		ids = append(ids, id)
	}
	rows, err := s.Store.Q.RunGetMany(ctx, ids)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "send logs", err)
	}
	byID := make(map[uuid.UUID]db.Run, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	var (
		resp    = &ferryv1.SendLogsResponse{}
		params  db.LogLinesInsertParams
		touched []uuid.UUID
	)
	for i, b := range batches {
		r, ok := byID[ids[i]]
		lease := b.GetLease()
		allowed := ok && r.PoolID == p.PoolID
		if allowed {
			live := r.LeaseToken == lease.GetLeaseToken() && r.AgentID.Valid && r.AgentID.UUID == agent.ID
			allowed = live && lease.GetAttempt() == r.Attempt
			if !live {
				// A batch resent after its attempt ended: accept it only for
				// the attempt, lease and agent it ended under.
				last, err := s.Store.Q.RunStateChangeLastEnded(ctx, r.ID)
				allowed = err == nil && last.LeaseToken == lease.GetLeaseToken() &&
					last.Attempt == lease.GetAttempt() && last.Actor == run.AgentActor(agent.ID.String())
			}
		}
		if !allowed {
			resp.Rejected = append(resp.Rejected, b.GetLease())
			continue
		}
		touched = append(touched, r.ID)
		for _, l := range b.GetLines() {
			t := now(s.Clock, l.GetTime())
			params.RunIds = append(params.RunIds, r.ID)
			params.Attempts = append(params.Attempts, b.GetLease().GetAttempt())
			params.Seqs = append(params.Seqs, l.GetSeq())
			params.Streams = append(params.Streams, int16(l.GetStream()))
			params.Texts = append(params.Texts, l.GetText())
			params.Times = append(params.Times, t)
			params.Truncated = append(params.Truncated, l.GetTruncated())
		}
	}
	if len(params.RunIds) > 0 {
		err := s.Store.Tx(ctx, func(q db.Querier) error {
			if _, err := q.LogLinesInsert(ctx, params); err != nil {
				return fmt.Errorf("store log lines: %w", err)
			}
			return transition.Notify(ctx, q, transition.ChannelLogs, touched)
		})
		if err != nil {
			return nil, errInternal(ctx, s.Log, "send logs", err)
		}
	}
	return connect.NewResponse(resp), nil
}

// now returns the agent's time of a log line, or the server's when missing.
func now(c clock.Clock, ts *timestamppb.Timestamp) time.Time {
	if ts == nil || !ts.IsValid() {
		return c.Now()
	}
	return ts.AsTime()
}

// GetLogCursors says how far the stored logs of the agent's leased runs go.
func (s *AgentServer) GetLogCursors(ctx context.Context, req *connect.Request[ferryv1.GetLogCursorsRequest]) (*connect.Response[ferryv1.GetLogCursorsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	agent, err := s.session(ctx, p, req.Msg.GetSessionId())
	if err != nil {
		return nil, err
	}
	leases := req.Msg.GetLeases()
	ids := make([]uuid.UUID, 0, len(leases))
	for i, l := range leases {
		id, err := uuid.Parse(l.GetRunId())
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("leases[%d].run_id", i), "not a UUID")
		}
		ids = append(ids, id)
	}
	rows, err := s.Store.Q.RunGetMany(ctx, ids)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get log cursors", err)
	}
	// Only the agent's own leases are answered.
	held := make(map[uuid.UUID]int32)
	for _, r := range rows {
		if leaseFilter(p.PoolID, agent.ID)(r) && r.AgentID.Valid {
			held[r.ID] = r.Attempt
		}
	}
	owned := make([]uuid.UUID, 0, len(held))
	for id := range held {
		owned = append(owned, id)
	}
	cursors, err := s.Store.Q.LogLinesCursors(ctx, owned)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get log cursors", err)
	}
	resp := &ferryv1.GetLogCursorsResponse{}
	found := make(map[uuid.UUID]bool)
	for _, c := range cursors {
		if held[c.RunID] != c.Attempt {
			continue
		}
		found[c.RunID] = true
		resp.Cursors = append(resp.Cursors, &ferryv1.LogCursor{
			RunId: c.RunID.String(), Attempt: c.Attempt, LastSeq: c.LastSeq, OutputLines: c.OutputLines,
		})
	}
	for id, attempt := range held {
		if !found[id] {
			resp.Cursors = append(resp.Cursors, &ferryv1.LogCursor{RunId: id.String(), Attempt: attempt})
		}
	}
	return connect.NewResponse(resp), nil
}
