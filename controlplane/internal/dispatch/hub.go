// Package dispatch offers runs to the agents connected to this control-plane
// replica. Each pool with connected agents has one loop; it wakes on a NOTIFY
// (a run became due, a slot was freed), on a local poke and on a slow tick,
// picks due runs with FOR UPDATE SKIP LOCKED, marks them offered under a fresh
// lease token, and pushes a work order into the agent's stream; package
// limits decides which runs fit the concurrency limits. A run becomes
// PENDING only when the agent claims it; an order lost with a dying stream
// simply expires and is offered again.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/jobtemplate"
	"github.com/ferryhq/ferry/controlplane/internal/limits"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Config holds the dispatcher's timings.
type Config struct {
	// OfferTTL is how long an agent has to claim an offered run. Default 10s.
	OfferTTL time.Duration
	// Tick wakes every pool loop this often, to catch runs that became due
	// by time alone. Default 1s.
	Tick time.Duration
	// MaxOffer caps the runs offered to one agent per round. Default 500.
	MaxOffer int32
	// Signer signs every work order. Nil sends orders unsigned, which
	// agents refuse; the server always sets one.
	Signer OrderSigner
	// Applier records the cancels that deployments' collision strategies
	// make. Default: an Applier of its own, which is equivalent because
	// cancels never grant a lease.
	Applier *transition.Applier
	// Admit, when set, judges every run just before its order goes out:
	// the deployment's version spec, for a pool of poolType. An error made
	// by [NotAdmitted] refuses the run, which Reject then ends;
	// any other error sends no order and leaves the offer to expire, so
	// the run is judged again on a later offer.
	Admit func(ctx context.Context, r db.Run, deployment string, spec *ferryv1.DeploymentSpec, poolType string) error
	// Reject ends a run that Admit refused, with reason as its message.
	// Default: [RejectRun] with Applier.
	Reject func(ctx context.Context, r db.Run, reason string) error
}

// ErrNotAdmitted matches the errors of [NotAdmitted]: a [Config.Admit]
// answer that refuses a run for good.
var ErrNotAdmitted = errors.New("not admitted")

// NotAdmitted returns the error by which [Config.Admit] refuses a run; its
// text is reason alone, which becomes the run's message.
func NotAdmitted(reason string) error { return &notAdmittedError{reason: reason} }

type notAdmittedError struct{ reason string }

func (e *notAdmittedError) Error() string        { return e.reason }
func (e *notAdmittedError) Is(target error) bool { return target == ErrNotAdmitted }

// OrderSigner signs the content of a work order; signing.Signer is the
// control plane's.
type OrderSigner interface {
	// Sign returns the serialized order, its Ed25519 signature and the id
	// of the key that made it.
	Sign(order *ferryv1.SignedOrder) (signedBytes, signature []byte, keyID string, err error)
}

func (c *Config) fill() {
	if c.OfferTTL <= 0 {
		c.OfferTTL = 10 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.MaxOffer <= 0 {
		c.MaxOffer = 500
	}
	if c.Applier == nil {
		c.Applier = transition.NewApplier(0)
	}
}

// Session is one agent's open Subscribe stream on this replica.
type Session struct {
	ID          uuid.UUID
	AgentID     uuid.UUID
	PoolID      uuid.UUID
	WorkspaceID uuid.UUID
	Capacity    int32
	// Out carries the messages to push into the stream.
	Out chan *ferryv1.SubscribeResponse
	// Replaced is closed when a newer session of the same agent registers.
	Replaced chan struct{}
	// TokenID is the agent token the stream was opened with; set it before
	// [Hub.Register].
	TokenID uuid.UUID
	// Revoked is closed when TokenID is revoked; the stream must end.
	Revoked chan struct{}

	mu       sync.Mutex
	draining bool
	closed   bool
	revoked  bool
}

// Bounds of a session's Out buffer. The messages waiting in it are work
// orders for offered runs and cancel requests for leased ones, and the
// dispatcher never holds more offers and leases for an agent than its
// capacity, so twice the capacity is room enough; an idle agent then does
// not pin a large buffer.
const (
	minOutBuffer = 16
	maxOutBuffer = 1024
)

// NewSession returns a session ready to register.
func NewSession(id, agentID, poolID, workspaceID uuid.UUID, capacity int32, draining bool) *Session {
	buf := min(max(2*int(capacity), minOutBuffer), maxOutBuffer)
	return &Session{
		ID: id, AgentID: agentID, PoolID: poolID, WorkspaceID: workspaceID, Capacity: capacity,
		Out: make(chan *ferryv1.SubscribeResponse, buf), Replaced: make(chan struct{}),
		Revoked: make(chan struct{}), draining: draining,
	}
}

// revoke ends the session for good: it takes no more work and Revoked is
// closed, once.
func (s *Session) revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.revoked {
		s.revoked = true
		close(s.Revoked)
	}
}

// SetDraining records whether the agent takes new work.
func (s *Session) SetDraining(d bool) {
	s.mu.Lock()
	s.draining = d
	s.mu.Unlock()
}

func (s *Session) accepting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.draining && !s.closed
}

// push queues msg without blocking; it reports false when the stream's
// buffer is full or the session ended.
func (s *Session) push(msg *ferryv1.SubscribeResponse) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.Out <- msg:
		return true
	default:
		return false
	}
}

// Hub tracks this replica's sessions and runs the pool loops.
type Hub struct {
	cfg   Config
	store *store.Store
	clock clock.Clock
	log   *slog.Logger
	specs specCache

	mu       sync.Mutex
	ctx      context.Context
	sessions map[uuid.UUID]*Session // by agent id
	pools    map[uuid.UUID]*poolLoop
}

// NewHub returns a Hub; call [Hub.Run] to start it.
func NewHub(cfg Config, s *store.Store, c clock.Clock, log *slog.Logger) *Hub {
	cfg.fill()
	if cfg.Reject == nil {
		applier := cfg.Applier
		cfg.Reject = func(ctx context.Context, r db.Run, reason string) error {
			return RejectRun(ctx, s, applier, c.Now(), r, reason)
		}
	}
	return &Hub{
		cfg: cfg, store: s, clock: c, log: log,
		specs:    specCache{m: make(map[specKey]cachedVersion)},
		sessions: make(map[uuid.UUID]*Session),
		pools:    make(map[uuid.UUID]*poolLoop),
	}
}

// Run keeps the hub alive until ctx ends; pool loops stop with it.
func (h *Hub) Run(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	<-ctx.Done()
}

// Register adds a session, replacing an older session of the same agent, and
// starts its pool's loop.
func (h *Hub) Register(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.sessions[s.AgentID]; ok {
		old.mu.Lock()
		old.closed = true
		old.mu.Unlock()
		close(old.Replaced)
	}
	h.sessions[s.AgentID] = s
	pl, ok := h.pools[s.PoolID]
	if !ok {
		pl = &poolLoop{id: s.PoolID, wake: make(chan struct{}, 1), hub: h}
		h.pools[s.PoolID] = pl
		ctx := h.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		pl.ctx, pl.cancel = context.WithCancel(ctx)
		go pl.run()
	}
	pl.poke()
}

// Unregister removes a session unless a newer one replaced it.
func (h *Hub) Unregister(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if cur, ok := h.sessions[s.AgentID]; ok && cur == s {
		delete(h.sessions, s.AgentID)
	}
	for _, other := range h.sessions {
		if other.PoolID == s.PoolID {
			return
		}
	}
	if pl, ok := h.pools[s.PoolID]; ok {
		pl.cancel()
		delete(h.pools, s.PoolID)
	}
}

// Poke wakes the loop of a pool, if this replica has one.
func (h *Hub) Poke(poolID uuid.UUID) {
	h.mu.Lock()
	pl := h.pools[poolID]
	h.mu.Unlock()
	if pl != nil {
		pl.poke()
	}
}

// OnDispatch handles a notification listing pool ids ("*" wakes all).
func (h *Hub) OnDispatch(payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if payload == "*" {
		for _, pl := range h.pools {
			pl.poke()
		}
		return
	}
	for _, part := range strings.Split(payload, ",") {
		id, err := uuid.Parse(part)
		if err != nil {
			continue
		}
		if pl := h.pools[id]; pl != nil {
			pl.poke()
		}
	}
}

// OnRevoke handles a notification listing revoked credential ids (see
// auth.ChannelRevoke): the sessions of this replica opened with one of
// those agent tokens are revoked, which ends their streams. Ids of other
// credentials match no session. The resync payload ("*", notifications may
// have been lost) has every session's token checked in the database.
func (h *Hub) OnRevoke(payload string) {
	if payload == "*" {
		h.mu.Lock()
		ctx := h.ctx
		h.mu.Unlock()
		if ctx != nil {
			go h.recheckTokens(ctx)
		}
		return
	}
	ids := make(map[uuid.UUID]bool)
	for _, part := range strings.Split(payload, ",") {
		if id, err := uuid.Parse(part); err == nil {
			ids[id] = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		if ids[s.TokenID] {
			s.revoke()
		}
	}
}

// recheckTokens revokes the sessions whose agent token was revoked, read
// from the database pool by pool.
func (h *Hub) recheckTokens(ctx context.Context) {
	h.mu.Lock()
	byPool := make(map[uuid.UUID][]*Session)
	for _, s := range h.sessions {
		byPool[s.PoolID] = append(byPool[s.PoolID], s)
	}
	h.mu.Unlock()
	for poolID, sessions := range byPool {
		tokens, err := h.store.Q.AgentTokenList(ctx, poolID)
		if err != nil {
			h.log.WarnContext(ctx, "recheck agent tokens", slog.String("pool_id", poolID.String()), slog.Any("error", err))
			continue
		}
		live := make(map[uuid.UUID]bool, len(tokens))
		for _, t := range tokens {
			live[t.ID] = t.RevokeTime == nil
		}
		for _, s := range sessions {
			if s.TokenID != uuid.Nil && !live[s.TokenID] {
				s.revoke()
			}
		}
	}
}

// OnCancel handles a notification listing agent ids with runs to stop: the
// cancel requests of agents connected here are pushed into their streams.
func (h *Hub) OnCancel(payload string) {
	var local []*Session
	h.mu.Lock()
	for _, part := range strings.Split(payload, ",") {
		if id, err := uuid.Parse(part); err == nil {
			if s := h.sessions[id]; s != nil {
				local = append(local, s)
			}
		}
	}
	ctx := h.ctx
	h.mu.Unlock()
	if ctx == nil {
		return
	}
	for _, s := range local {
		go h.pushCancels(ctx, s)
	}
}

func (h *Hub) pushCancels(ctx context.Context, s *Session) {
	reqs, err := CancelRequests(ctx, h.store.Q, s.AgentID)
	if err != nil {
		h.log.WarnContext(ctx, "read runs to cancel", slog.String("agent_id", s.AgentID.String()), slog.Any("error", err))
		return
	}
	for _, cr := range reqs {
		s.push(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_CancelRequest{CancelRequest: cr}})
	}
}

// CancelRequests lists the cancel requests pending for an agent's runs.
func CancelRequests(ctx context.Context, q db.Querier, agentID uuid.UUID) ([]*ferryv1.CancelRequest, error) {
	rows, err := q.RunListLeasedByAgent(ctx, agentID)
	if err != nil {
		return nil, err
	}
	var out []*ferryv1.CancelRequest
	for _, r := range rows {
		if r.State == "CANCELLING" {
			out = append(out, &ferryv1.CancelRequest{RunId: r.ID.String(), Attempt: r.Attempt, LeaseToken: r.LeaseToken, Reason: r.StateMessage})
		}
	}
	return out, nil
}

type poolLoop struct {
	id     uuid.UUID
	hub    *Hub
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	next   int
}

func (p *poolLoop) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *poolLoop) run() {
	tick := time.NewTicker(p.hub.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-tick.C:
		}
		if err := p.round(p.ctx); err != nil && p.ctx.Err() == nil {
			p.hub.log.WarnContext(p.ctx, "dispatch round failed", slog.String("pool_id", p.id.String()), slog.Any("error", err))
		}
	}
}

// round offers due runs to every accepting agent of the pool, starting with
// a different agent each round so that work spreads.
func (p *poolLoop) round(ctx context.Context) error {
	h := p.hub
	h.mu.Lock()
	var sessions []*Session
	for _, s := range h.sessions {
		if s.PoolID == p.id && s.accepting() {
			sessions = append(sessions, s)
		}
	}
	h.mu.Unlock()
	if len(sessions) == 0 {
		return nil
	}
	pool, err := h.store.Q.WorkPoolGet(ctx, p.id)
	if err != nil {
		return fmt.Errorf("read pool: %w", err)
	}
	if pool.Paused {
		return nil
	}
	err = h.store.Tx(ctx, func(q db.Querier) error {
		_, err := limits.ResolveCollisions(ctx, q, h.cfg.Applier, pool.WorkspaceID, p.id, h.clock.Now())
		return err
	})
	if err != nil {
		return fmt.Errorf("apply collision strategies: %w", err)
	}
	p.next++
	for i := range sessions {
		s := sessions[(p.next+i)%len(sessions)]
		more, drained, err := p.offer(ctx, s, pool)
		if err != nil {
			return err
		}
		if more {
			p.poke()
		}
		if drained {
			// Offers take due runs of the whole pool, whichever agent
			// asks, so the other agents would get none either. Stopping here
			// keeps a pool of many idle agents from costing two queries per
			// agent on every tick and every new run.
			break
		}
	}
	return nil
}

// offer offers runs to one session up to its free capacity; more reports
// whether the agent took a full batch, so another round may find more work,
// and drained whether the agent had room but the pool had no run to offer.
func (p *poolLoop) offer(ctx context.Context, s *Session, pool db.WorkPool) (more, drained bool, err error) {
	h := p.hub
	poolType := pool.Type
	// The template was checked when the pool was applied.
	tmpl, err := jobtemplate.ParsePool(pool.Type, pool.BaseJobTemplate)
	if err != nil {
		return false, false, fmt.Errorf("base job template of pool %s: %w", pool.ID, err)
	}
	now := h.clock.Now()
	room, err := h.store.Q.LimitAgentRoom(ctx, db.LimitAgentRoomParams{AgentID: s.AgentID, Now: now})
	if err != nil {
		return false, false, fmt.Errorf("count agent's runs: %w", err)
	}
	// A heartbeat may have turned draining on through another replica.
	free := min(s.Capacity-room.Held, h.cfg.MaxOffer)
	if free <= 0 || room.Draining {
		return false, false, nil
	}
	expire := now.Add(h.cfg.OfferTTL)
	var runs []db.Run
	err = h.store.Tx(ctx, func(q db.Querier) error {
		var err error
		runs, more, err = limits.Offer(ctx, q, limits.OfferParams{
			WorkspaceID: s.WorkspaceID, PoolID: p.id, AgentID: s.AgentID,
			Now: now, ExpireTime: expire, Max: free,
		})
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("offer runs: %w", err)
	}
	for _, r := range runs {
		version, err := h.specs.get(ctx, h.store.Q, r.DeploymentID, r.DeploymentVersion)
		if err != nil {
			return false, false, err
		}
		// The admission policy judges the spec as the job variables change it.
		spec, vars, err := withJobVariables(tmpl, version.spec, r)
		if err != nil {
			// Variables are checked when a deployment is applied and a run
			// is created, so this is not expected; the offer expires and the
			// run is offered again.
			h.log.ErrorContext(ctx, "work order not sent", slog.String("agent_id", s.AgentID.String()),
				slog.String("run_id", r.ID.String()), slog.Any("error", err))
			continue
		}
		version.spec = spec
		if h.cfg.Admit != nil && !h.admit(ctx, r, version, poolType) {
			continue
		}
		order := WorkOrder(r, version.spec, poolType, expire)
		order.Job.Deployment = version.name
		order.Job.JobVariables = vars
		if h.cfg.Signer != nil {
			if err := SignWorkOrder(h.cfg.Signer, order, s.AgentID, now); err != nil {
				// The agent would refuse the order; the offer expires and the
				// run is offered again.
				h.log.ErrorContext(ctx, "work order not sent", slog.String("agent_id", s.AgentID.String()),
					slog.String("run_id", r.ID.String()), slog.Any("error", err))
				continue
			}
		}
		if !s.push(&ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_WorkOrder{WorkOrder: order}}) {
			// The offer expires by itself and the run is offered again.
			h.log.WarnContext(ctx, "agent stream full or closed; offer left to expire",
				slog.String("agent_id", s.AgentID.String()), slog.String("run_id", r.ID.String()))
		}
	}
	return more, len(runs) == 0, nil
}

// admit asks Config.Admit about an offered run and reports whether its
// order may go out. A refused run is ended at once; a run the policy could
// not judge keeps its offer, which expires, so it is judged again later.
func (h *Hub) admit(ctx context.Context, r db.Run, version cachedVersion, poolType string) bool {
	err := h.cfg.Admit(ctx, r, version.name, version.spec, poolType)
	if err == nil {
		return true
	}
	log := h.log.With(slog.String("run_id", r.ID.String()), slog.String("deployment", version.name))
	if !errors.Is(err, ErrNotAdmitted) {
		log.ErrorContext(ctx, "admission check failed; offer left to expire", slog.Any("error", err))
		return false
	}
	if rerr := h.cfg.Reject(ctx, r, err.Error()); rerr != nil {
		log.ErrorContext(ctx, "reject run refused by admission; offer left to expire", slog.Any("error", rerr))
		return false
	}
	log.InfoContext(ctx, "run rejected by admission at dispatch", slog.String("reason", err.Error()))
	return false
}

// SignWorkOrder signs order for the agent agentID: it fills signed_order
// with a [ferryv1.SignedOrder] made of the order's clear fields, the agent
// id and issued as issue time, and sets signature and key_id.
func SignWorkOrder(signer OrderSigner, order *ferryv1.WorkOrder, agentID uuid.UUID, issued time.Time) error {
	body, sig, keyID, err := signer.Sign(&ferryv1.SignedOrder{
		RunId:      order.GetRunId(),
		Attempt:    order.GetAttempt(),
		LeaseToken: order.GetLeaseToken(),
		ExpireTime: order.GetOfferExpireTime(),
		Job:        order.GetJob(),
		AgentId:    agentID.String(),
		IssueTime:  timestamppb.New(issued),
	})
	if err != nil {
		return fmt.Errorf("sign work order for run %s: %w", order.GetRunId(), err)
	}
	order.SignedOrder, order.Signature, order.KeyId = body, sig, keyID
	return nil
}

// WorkOrder builds the order for an offered run.
func WorkOrder(r db.Run, spec *ferryv1.DeploymentSpec, poolType string, expire time.Time) *ferryv1.WorkOrder {
	job := &ferryv1.JobSpec{
		DeploymentVersion: r.DeploymentVersion,
		Command:           spec.GetCommand(),
		Env:               spec.GetEnv(),
		WorkingDir:        spec.GetWorkingDir(),
		Parameters:        string(r.Parameters),
		Image:             spec.GetImage(),
		Container:         spec.GetContainer(),
		Secrets:           spec.GetSecrets(),
		PoolType:          poolType,
	}
	if r.TimeoutMs > 0 {
		job.Timeout = durationMs(r.TimeoutMs)
	}
	return &ferryv1.WorkOrder{
		RunId:           r.ID.String(),
		Attempt:         r.Attempt,
		LeaseToken:      r.LeaseToken,
		OfferExpireTime: timestamppb.New(expire),
		Job:             job,
	}
}

// withJobVariables lays the run's job variables over its deployment's and
// the pool template's defaults, and returns the spec they make (see
// [jobtemplate.Template.Effective]) with the merged variables, "" when there are none.
func withJobVariables(tmpl jobtemplate.Template, spec *ferryv1.DeploymentSpec, r db.Run) (*ferryv1.DeploymentSpec, string, error) {
	merged, err := jobtemplate.Merge(tmpl.Defaults, spec.GetJobVariables(), string(r.JobVariables))
	if err != nil {
		return nil, "", fmt.Errorf("merge job variables of run %s: %w", r.ID, err)
	}
	if merged == "{}" {
		return spec, "", nil
	}
	eff, err := tmpl.Effective(spec, merged)
	if err != nil {
		return nil, "", fmt.Errorf("apply job variables of run %s: %w", r.ID, err)
	}
	return eff, merged, nil
}

type specKey struct {
	deployment uuid.UUID
	version    int32
}

// specCache holds deployment versions, which never change once written,
// with the deployment's name, which never changes either.
type specCache struct {
	mu sync.Mutex
	m  map[specKey]cachedVersion
}

type cachedVersion struct {
	spec *ferryv1.DeploymentSpec
	name string
}

func (c *specCache) get(ctx context.Context, q db.Querier, id uuid.UUID, version int32) (cachedVersion, error) {
	k := specKey{id, version}
	c.mu.Lock()
	cv, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return cv, nil
	}
	v, err := q.DeploymentVersionGet(ctx, db.DeploymentVersionGetParams{DeploymentID: id, Version: version})
	if err != nil {
		return cachedVersion{}, fmt.Errorf("read deployment version: %w", err)
	}
	d, err := q.DeploymentGet(ctx, id)
	if err != nil {
		return cachedVersion{}, fmt.Errorf("read deployment: %w", err)
	}
	spec, err := store.DecodeDeploymentSpec(v.Spec)
	if err != nil {
		return cachedVersion{}, fmt.Errorf("deployment version %d: %w", version, err)
	}
	cv = cachedVersion{spec: spec, name: d.Name}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[k] = cv
	c.mu.Unlock()
	return cv, nil
}
