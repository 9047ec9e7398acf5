// Package agenttest is an in-process fake of the control plane's
// AgentService, served over real HTTP on loopback, for the agent's tests.
//
// A [Server] welcomes agents, sends keepalives, pushes the work orders and
// cancel requests a test gives it, accepts claims of offered runs, records
// state reports, and stores log lines deduplicated by (run, attempt, seq) as
// the real control plane does. A test can drop the stream, make calls fail,
// lose a run's lease, revoke the token, and wait for what it expects.
//
// It is for tests only and implements no more of the protocol's rules than
// the agent's tests need.
package agenttest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// Token is the agent token the server accepts.
const Token = "agenttest-token"

// Options configures a [Server]. Zero durations take short defaults suited
// to tests.
type Options struct {
	// PoolType is announced in the Welcome; default "process".
	PoolType string
	// HeartbeatInterval, LeaseDuration and KeepaliveInterval are announced in
	// the Welcome; defaults 50ms, 2s and 50ms.
	HeartbeatInterval time.Duration
	LeaseDuration     time.Duration
	KeepaliveInterval time.Duration
	// SilentStream stops the server from sending keepalives.
	SilentStream bool
	// Redispatch pushes again, on every heartbeat, the orders of runs not
	// yet claimed, as a dispatcher does for an agent with free slots.
	Redispatch bool
	// ClaimDelay holds every ClaimRuns answer back this long.
	ClaimDelay time.Duration
	// RefuseReports answers every state report with accepted=false and
	// stop=true, as for a lease that is no longer the agent's.
	RefuseReports bool
	// SigningKey, when set, signs every offered order as the control plane
	// does, under KeyID.
	SigningKey ed25519.PrivateKey
	KeyID      string
}

// AgentID is the agent id the server announces in its Welcome.
const AgentID = "agent-1"

// Server is the fake control plane. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	opts Options

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every recorded event
	revoked    bool
	session    string
	stream     *streamState
	subscribes []*ferryv1.SubscribeRequest
	nextToken  int64
	runs       map[string]*Run
	heartbeats []*ferryv1.HeartbeatRequest
	failures   map[string]*failure
	lostAcks   int
	maxLive    int
	keepalives int
}

// Run is what the server knows of one run.
type Run struct {
	// Order is the work order offered for the run.
	Order *ferryv1.WorkOrder
	// Claimed reports whether the agent claimed the run.
	Claimed bool
	// Lost reports whether the server no longer leases the run to the agent.
	Lost bool
	// Reports are the accepted state reports, in order.
	Reports []*ferryv1.StateReport
	// Lines are the stored log lines, in the order first received.
	Lines []*ferryv1.AgentLogLine
	// Resent counts lines received again after they were stored.
	Resent int

	seen     map[int64]bool
	cancel   string // reason of a cancel to announce in heartbeats
	finished bool
}

type streamState struct {
	push chan *ferryv1.SubscribeResponse
	drop chan error
}

type failure struct {
	code  connect.Code
	times int // negative means until cleared
}

// New starts a server on loopback and stops it when the test ends.
func New(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.PoolType == "" {
		opts.PoolType = "process"
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 50 * time.Millisecond
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 2 * time.Second
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = 50 * time.Millisecond
	}
	s := &Server{
		opts:     opts,
		changed:  make(chan struct{}),
		runs:     map[string]*Run{},
		failures: map[string]*failure{},
	}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAgentServiceHandler(s))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.DropStream()
		srv.CloseClientConnections()
		srv.Close()
	})
	s.URL = srv.URL
	return s
}

// notify wakes waiters; the caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor polls cond, under the server's lock, until it holds or 15 seconds
// pass, in which case the test fails with what.
func (s *Server) WaitFor(t *testing.T, what string, cond func(s *Server) bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s)
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Run returns what the server knows of a run, or nil. Call it only inside a
// [Server.WaitFor] condition or a [Server.Inspect] function.
func (s *Server) Run(runID string) *Run { return s.runs[runID] }

// Subscribes returns how many streams were opened; call it under the lock
// as [Server.Run].
func (s *Server) Subscribes() int { return len(s.subscribes) }

// Heartbeats returns the heartbeats received; call it under the lock as
// [Server.Run].
func (s *Server) Heartbeats() []*ferryv1.HeartbeatRequest { return s.heartbeats }

// MaxLive returns the largest number of runs claimed and not yet finished at
// the same time; call it under the lock as [Server.Run].
func (s *Server) MaxLive() int { return s.maxLive }

// Inspect runs f under the server's lock.
func (s *Server) Inspect(f func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Keepalives returns how many keepalives were sent; call it under the lock
// as [Server.Run].
func (s *Server) Keepalives() int { return s.keepalives }

// Session returns the current session id, or "" when no stream is open;
// call it under the lock as [Server.Run].
func (s *Server) Session() string { return s.session }

// Connected reports whether a stream is open; call it under the lock as
// [Server.Run].
func (s *Server) Connected() bool { return s.stream != nil }

// Offer creates a run for job and pushes its work order on the open stream.
// It returns the order, or fails the test when no stream is open.
func (s *Server) Offer(t *testing.T, job *ferryv1.JobSpec) *ferryv1.WorkOrder {
	t.Helper()
	return s.OfferAll(t, job)[0]
}

// OfferAll offers one run per job, all at once.
func (s *Server) OfferAll(t *testing.T, jobs ...*ferryv1.JobSpec) []*ferryv1.WorkOrder {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var orders []*ferryv1.WorkOrder
	for _, job := range jobs {
		s.nextToken++
		o := &ferryv1.WorkOrder{
			RunId:           uuid.NewString(),
			Attempt:         1,
			LeaseToken:      s.nextToken,
			OfferExpireTime: timestamppb.New(time.Now().Add(time.Minute)),
			Job:             job,
		}
		if s.opts.SigningKey != nil {
			sign(t, o, s.opts.SigningKey, s.opts.KeyID)
		}
		s.runs[o.RunId] = &Run{Order: o, seen: map[int64]bool{}}
		orders = append(orders, o)
	}
	for _, o := range orders {
		if !s.pushLocked(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_WorkOrder{WorkOrder: o}}) {
			t.Fatal("agenttest: no stream open to offer a run on")
		}
	}
	return orders
}

// OfferOrder pushes a prepared order, such as a forged or altered one, and
// records its run.
func (s *Server) OfferOrder(t *testing.T, o *ferryv1.WorkOrder) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.GetLeaseToken() > s.nextToken {
		s.nextToken = o.GetLeaseToken()
	}
	s.runs[o.GetRunId()] = &Run{Order: o, seen: map[int64]bool{}}
	if !s.pushLocked(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_WorkOrder{WorkOrder: o}}) {
		t.Fatal("agenttest: no stream open to offer a run on")
	}
}

// NewOrder returns an order for job with a fresh run id and lease token,
// signed with key when key is not nil; it is not offered.
func (s *Server) NewOrder(t *testing.T, job *ferryv1.JobSpec, key ed25519.PrivateKey, keyID string) *ferryv1.WorkOrder {
	t.Helper()
	s.mu.Lock()
	s.nextToken++
	tok := s.nextToken
	s.mu.Unlock()
	o := &ferryv1.WorkOrder{
		RunId:           uuid.NewString(),
		Attempt:         1,
		LeaseToken:      tok,
		OfferExpireTime: timestamppb.New(time.Now().Add(time.Minute)),
		Job:             job,
	}
	if key != nil {
		sign(t, o, key, keyID)
	}
	return o
}

// sign fills the order's signed form as the control plane's signer does.
func sign(t *testing.T, o *ferryv1.WorkOrder, key ed25519.PrivateKey, keyID string) {
	t.Helper()
	signed := &ferryv1.SignedOrder{
		RunId: o.GetRunId(), Attempt: o.GetAttempt(), LeaseToken: o.GetLeaseToken(),
		ExpireTime: o.GetOfferExpireTime(), Job: o.GetJob(), AgentId: AgentID,
		IssueTime: timestamppb.Now(),
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(signed)
	if err != nil {
		t.Fatalf("agenttest: marshal signed order: %v", err)
	}
	o.SignedOrder, o.Signature, o.KeyId = b, ed25519.Sign(key, b), keyID
}

// CancelOnStream pushes a cancel request for the run on the open stream.
func (s *Server) CancelOnStream(t *testing.T, runID, reason string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.runs[runID].Order
	if !s.pushLocked(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_CancelRequest{
		CancelRequest: &ferryv1.CancelRequest{
			RunId: o.RunId, Attempt: o.Attempt, LeaseToken: o.LeaseToken, Reason: reason,
		},
	}}) {
		t.Fatal("agenttest: no stream open to cancel a run on")
	}
}

// CancelInHeartbeat has the run listed as cancelled in the next heartbeat
// responses that list it live.
func (s *Server) CancelInHeartbeat(runID, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[runID].cancel = reason
}

// Expire takes the run's lease away from the agent, as the lease reaper
// does: heartbeats list it lost, and its reports and logs are refused.
func (s *Server) Expire(runID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[runID].Lost = true
}

// DropStream ends the open stream, if any, with an Unavailable error.
func (s *Server) DropStream() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(connect.NewError(connect.CodeUnavailable, errors.New("agenttest: stream dropped")))
}

// ForgetSession makes the server forget the open stream's session without
// closing the stream, as a restarted control plane replica would: unary
// calls are refused with FailedPrecondition and heartbeats are answered with
// resubscribe.
func (s *Server) ForgetSession() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.session = ""
}

// Fail makes the next times calls of procedure ("Subscribe", "ClaimRuns",
// "ReportStates", "Heartbeat", "SendLogs") fail with code; a negative times
// fails them until [Server.Heal].
func (s *Server) Fail(procedure string, code connect.Code, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[procedure] = &failure{code: code, times: times}
}

// Heal stops the failures set by [Server.Fail] for procedure.
func (s *Server) Heal(procedure string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, procedure)
}

// LoseLogAcks makes the next n SendLogs calls store their lines and then
// fail, so that the agent resends lines already stored.
func (s *Server) LoseLogAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostAcks = n
}

// Revoke refuses the agent token from now on and ends the open stream with
// Unauthenticated.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
	s.dropLocked(connect.NewError(connect.CodeUnauthenticated, errors.New("agenttest: token revoked")))
}

func (s *Server) pushLocked(msg *ferryv1.SubscribeResponse) bool {
	if s.stream == nil {
		return false
	}
	s.stream.push <- msg
	return true
}

func (s *Server) dropLocked(err error) {
	if s.stream == nil {
		return
	}
	s.stream.drop <- err
	s.stream = nil
	s.session = ""
	s.notify()
}

// check authenticates a call and applies injected failures; the caller
// holds s.mu.
func (s *Server) check(procedure string, header http.Header) error {
	if s.revoked || header.Get("Authorization") != "Bearer "+Token {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("agenttest: bad token"))
	}
	if f := s.failures[procedure]; f != nil && f.times != 0 {
		f.times--
		return connect.NewError(f.code, errors.New("agenttest: injected failure"))
	}
	return nil
}

// checkSession is check plus the session check of unary calls.
func (s *Server) checkSession(procedure string, header http.Header, session string) error {
	if err := s.check(procedure, header); err != nil {
		return err
	}
	if session == "" || session != s.session {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("agenttest: unknown session"))
	}
	return nil
}

// Subscribe implements ferryv1connect.AgentServiceHandler.
func (s *Server) Subscribe(
	ctx context.Context,
	req *connect.Request[ferryv1.SubscribeRequest],
	stream *connect.ServerStream[ferryv1.SubscribeResponse],
) error {
	s.mu.Lock()
	if err := s.check("Subscribe", req.Header()); err != nil {
		s.mu.Unlock()
		return err
	}
	st := &streamState{push: make(chan *ferryv1.SubscribeResponse, 1024), drop: make(chan error, 1)}
	s.dropLocked(connect.NewError(connect.CodeAborted, errors.New("agenttest: replaced by a newer session")))
	s.stream = st
	s.session = uuid.NewString()
	s.subscribes = append(s.subscribes, req.Msg)
	welcome := &ferryv1.Welcome{
		AgentId:           AgentID,
		SessionId:         s.session,
		Pool:              "test-pool",
		PoolType:          s.opts.PoolType,
		HeartbeatInterval: durationpb.New(s.opts.HeartbeatInterval),
		LeaseDuration:     durationpb.New(s.opts.LeaseDuration),
		KeepaliveInterval: durationpb.New(s.opts.KeepaliveInterval),
	}
	s.notify()
	s.mu.Unlock()

	if err := stream.Send(&ferryv1.SubscribeResponse{
		Message: &ferryv1.SubscribeResponse_Welcome{Welcome: welcome},
	}); err != nil {
		return err
	}
	for {
		var keepalive <-chan time.Time
		if !s.opts.SilentStream {
			keepalive = time.After(s.opts.KeepaliveInterval)
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			if s.stream == st {
				s.stream = nil
				s.notify()
			}
			s.mu.Unlock()
			return nil
		case err := <-st.drop:
			return err
		case msg := <-st.push:
			if err := stream.Send(msg); err != nil {
				return err
			}
		case now := <-keepalive:
			msg := &ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_Keepalive{
				Keepalive: &ferryv1.Keepalive{Time: timestamppb.New(now)},
			}}
			if err := stream.Send(msg); err != nil {
				return err
			}
			s.mu.Lock()
			s.keepalives++
			s.notify()
			s.mu.Unlock()
		}
	}
}

// ClaimRuns implements ferryv1connect.AgentServiceHandler.
func (s *Server) ClaimRuns(
	_ context.Context,
	req *connect.Request[ferryv1.ClaimRunsRequest],
) (*connect.Response[ferryv1.ClaimRunsResponse], error) {
	if s.opts.ClaimDelay > 0 {
		time.Sleep(s.opts.ClaimDelay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession("ClaimRuns", req.Header(), req.Msg.GetSessionId()); err != nil {
		return nil, err
	}
	res := &ferryv1.ClaimRunsResponse{}
	for _, c := range req.Msg.GetClaims() {
		r := s.runs[c.GetRunId()]
		result := &ferryv1.ClaimResult{RunId: c.GetRunId()}
		switch {
		case r == nil || r.Lost || r.finished:
			result.Reason = "run is not offered"
		case r.Order.GetLeaseToken() != c.GetLeaseToken() || r.Order.GetAttempt() != c.GetAttempt():
			result.Reason = "stale offer"
		default:
			r.Claimed = true
			result.Accepted = true
			result.LeaseExpireTime = timestamppb.New(time.Now().Add(s.opts.LeaseDuration))
		}
		res.Results = append(res.Results, result)
	}
	s.maxLive = max(s.maxLive, s.liveLocked())
	s.notify()
	return connect.NewResponse(res), nil
}

func (s *Server) liveLocked() int {
	n := 0
	for _, r := range s.runs {
		if r.Claimed && !r.finished && !r.Lost {
			n++
		}
	}
	return n
}

// owns reports whether lease names a run the agent holds.
func (s *Server) owns(lease *ferryv1.RunLease) (*Run, bool) {
	r := s.runs[lease.GetRunId()]
	if r == nil || !r.Claimed || r.Lost ||
		r.Order.GetLeaseToken() != lease.GetLeaseToken() || r.Order.GetAttempt() != lease.GetAttempt() {
		return r, false
	}
	return r, true
}

// ReportStates implements ferryv1connect.AgentServiceHandler.
func (s *Server) ReportStates(
	_ context.Context,
	req *connect.Request[ferryv1.ReportStatesRequest],
) (*connect.Response[ferryv1.ReportStatesResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession("ReportStates", req.Header(), req.Msg.GetSessionId()); err != nil {
		return nil, err
	}
	res := &ferryv1.ReportStatesResponse{}
	for _, rep := range req.Msg.GetReports() {
		result := &ferryv1.ReportResult{RunId: rep.GetLease().GetRunId()}
		r, ok := s.owns(rep.GetLease())
		switch {
		case !ok || s.opts.RefuseReports:
			result.Reason = "lease is not the agent's"
			result.Stop = true
		case r.finished:
			result.Accepted = true
			result.Duplicate = true
		default:
			result.Accepted = true
			r.Reports = append(r.Reports, rep)
			r.finished = rep.GetKind() != ferryv1.ReportKind_REPORT_KIND_STARTED
		}
		res.Results = append(res.Results, result)
	}
	s.notify()
	return connect.NewResponse(res), nil
}

// Heartbeat implements ferryv1connect.AgentServiceHandler.
func (s *Server) Heartbeat(
	_ context.Context,
	req *connect.Request[ferryv1.HeartbeatRequest],
) (*connect.Response[ferryv1.HeartbeatResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("Heartbeat", req.Header()); err != nil {
		return nil, err
	}
	s.heartbeats = append(s.heartbeats, req.Msg)
	s.notify()
	res := &ferryv1.HeartbeatResponse{
		LeaseExpireTime: timestamppb.New(time.Now().Add(s.opts.LeaseDuration)),
	}
	if req.Msg.GetSessionId() != s.session || s.session == "" {
		// Like the control plane: an unknown session renews nothing.
		res.Resubscribe = true
		return connect.NewResponse(res), nil
	}
	if s.opts.Redispatch {
		for _, r := range s.runs {
			if !r.Claimed {
				s.pushLocked(&ferryv1.SubscribeResponse{
					Message: &ferryv1.SubscribeResponse_WorkOrder{WorkOrder: r.Order},
				})
			}
		}
	}
	for _, l := range req.Msg.GetLive() {
		r, ok := s.owns(l)
		switch {
		case !ok:
			res.Lost = append(res.Lost, l)
		case r.cancel != "":
			res.Cancel = append(res.Cancel, &ferryv1.CancelRequest{
				RunId: l.GetRunId(), Attempt: l.GetAttempt(), LeaseToken: l.GetLeaseToken(), Reason: r.cancel,
			})
		}
	}
	return connect.NewResponse(res), nil
}

// SendLogs implements ferryv1connect.AgentServiceHandler.
func (s *Server) SendLogs(
	_ context.Context,
	req *connect.Request[ferryv1.SendLogsRequest],
) (*connect.Response[ferryv1.SendLogsResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession("SendLogs", req.Header(), req.Msg.GetSessionId()); err != nil {
		return nil, err
	}
	res := &ferryv1.SendLogsResponse{}
	for _, b := range req.Msg.GetBatches() {
		r, ok := s.owns(b.GetLease())
		if !ok {
			res.Rejected = append(res.Rejected, b.GetLease())
			continue
		}
		for _, l := range b.GetLines() {
			if r.seen[l.GetSeq()] {
				r.Resent++
				continue
			}
			r.seen[l.GetSeq()] = true
			r.Lines = append(r.Lines, l)
		}
	}
	s.notify()
	if s.lostAcks > 0 {
		s.lostAcks--
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("agenttest: acknowledgement lost"))
	}
	return connect.NewResponse(res), nil
}

// GetLogCursors answers how far the stored lines of the given leases go.
func (s *Server) GetLogCursors(
	_ context.Context,
	req *connect.Request[ferryv1.GetLogCursorsRequest],
) (*connect.Response[ferryv1.GetLogCursorsResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSession("GetLogCursors", req.Header(), req.Msg.GetSessionId()); err != nil {
		return nil, err
	}
	res := &ferryv1.GetLogCursorsResponse{}
	for _, lease := range req.Msg.GetLeases() {
		r, ok := s.owns(lease)
		if !ok {
			continue
		}
		c := &ferryv1.LogCursor{RunId: lease.GetRunId(), Attempt: lease.GetAttempt()}
		for _, l := range r.Lines {
			c.LastSeq = max(c.LastSeq, l.GetSeq())
			if l.GetStream() != ferryv1.LogStream_LOG_STREAM_SYSTEM {
				c.OutputLines++
			}
		}
		res.Cursors = append(res.Cursors, c)
	}
	return connect.NewResponse(res), nil
}

// Kinds returns the kinds of the run's accepted reports, in order.
func (r *Run) Kinds() []ferryv1.ReportKind {
	kinds := make([]ferryv1.ReportKind, len(r.Reports))
	for i, rep := range r.Reports {
		kinds[i] = rep.GetKind()
	}
	return kinds
}

// Texts returns the texts of the run's stored lines sorted by seq, and
// whether the seqs run 1, 2, 3... without a gap.
func (r *Run) Texts() ([]string, bool) {
	lines := slices.Clone(r.Lines)
	slices.SortFunc(lines, func(a, b *ferryv1.AgentLogLine) int { return int(a.GetSeq() - b.GetSeq()) })
	texts := make([]string, len(lines))
	gapless := true
	for i, l := range lines {
		texts[i] = l.GetText()
		gapless = gapless && l.GetSeq() == int64(i+1)
	}
	return texts, gapless
}

// Finished reports whether a final report of the run was accepted.
func (r *Run) Finished() bool { return r.finished }
