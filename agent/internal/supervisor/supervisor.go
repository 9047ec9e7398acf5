package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/logbuf"
	"github.com/ferryhq/ferry/agent/internal/mask"
	"github.com/ferryhq/ferry/agent/internal/verify"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Defaults and limits.
const (
	defaultCapacity      = 4
	defaultShutdownGrace = 30 * time.Second
	// defaultHeartbeatInterval and defaultLeaseDuration apply until a Welcome
	// names the control plane's values, or when it names none.
	defaultHeartbeatInterval = 10 * time.Second
	defaultLeaseDuration     = 30 * time.Second
	// claimTimeout bounds a claim, retries included; an offer is short-lived,
	// so a claim that takes longer is not worth making.
	claimTimeout = 15 * time.Second
	// finalReportWait is how long runs stopped at shutdown have, beyond their
	// stop grace, to exit, ship their logs and report.
	finalReportWait = 15 * time.Second
	// stopCallTimeout bounds one call of launch.Handle.Cancel.
	stopCallTimeout = 30 * time.Second
	// Bounds of the self-fencing check period (a twentieth of the lease).
	minFenceTick = 10 * time.Millisecond
	maxFenceTick = time.Second
	// Protocol limits of StateReport fields, in bytes.
	maxMessageBytes = 4096
	maxInfraIDBytes = 512
)

// ErrUnsupportedPool is returned, wrapped, by [Supervisor.Run] when the
// control plane names a pool type the agent has no launcher for.
var ErrUnsupportedPool = errors.New("supervisor: unsupported pool type")

// poolTypeECS is the pool type whose secrets the infrastructure resolves.
const poolTypeECS = "ecs"

var (
	errLeaseLost    = errors.New("control plane no longer leases the run to this agent")
	errLeaseExpired = errors.New("lease expired without renewal")
	errShutdown     = errors.New("agent shutdown deadline passed")
	errAgentStopped = errors.New("agent stopped")
)

// Config configures a [Supervisor].
type Config struct {
	// Conn is the connection to the control plane; required.
	Conn *conn.Client
	// Launchers maps a pool type ("process", "docker", "ecs") to its launcher;
	// the Welcome's pool type selects one.
	Launchers map[string]launch.Launcher
	// Capacity is how many runs the agent holds at once; default 4.
	Capacity int
	// WorkDir is the absolute directory a job without one starts in, and the
	// base of a relative one; default the agent's current directory.
	WorkDir string
	// ShutdownGrace is how long runs may go on after shutdown begins before
	// they are stopped; default 30s.
	ShutdownGrace time.Duration
	// StopGrace is how long a stopped run has between the graceful stop and
	// the kill; zero means [launch.DefaultStopGrace].
	StopGrace time.Duration
	// Logs tunes log shipping; its Sender, Logger and Clock are set by [New].
	Logs logbuf.Config
	// Logger receives the agent's events; nil discards them.
	Logger *slog.Logger
	// Clock measures leases and intervals; nil means the real clock, whose
	// readings are monotonic.
	Clock clock.Clock
	// Verifier checks the control plane's signature on every work order; an
	// order it refuses is claimed and reported REJECTED, and never launched.
	// Nil accepts unsigned orders, which only an operator's explicit choice
	// for development may allow.
	Verifier *verify.Verifier
	// Policy is the agent's local policy, evaluated before every launch; a
	// denial makes the run FAILED (Rejected). Nil allows every order.
	Policy Policy
	// Secrets resolves the secret references of a job at launch. Nil refuses
	// every job that has secret references. Jobs of ecs pools are never
	// resolved by the agent: their references go to the launcher in
	// [launch.Job.SecretRefs], for ECS to fetch with the task's execution
	// role, so the agent cannot mask their values either.
	Secrets SecretResolver
	// Masks receives each run's resolved secrets while the run is held, so
	// the agent's own logs are masked too; nil keeps none.
	Masks *mask.Registry
	// MinMaskLen is the shortest secret value masked in run logs; shorter
	// values are left alone with a warning. Default mask.DefaultMinLen.
	MinMaskLen int
}

// Policy decides whether a job may run on this agent.
type Policy interface {
	// Evaluate returns the reasons the job is denied; none means allowed.
	// An error means the decision could not be made, which denies too.
	Evaluate(ctx context.Context, runID string, attempt int32, job *ferryv1.JobSpec) (denials []string, err error)
}

// SecretResolver resolves secret references from the agent's own sources.
type SecretResolver interface {
	// Resolve maps each environment variable name of refs to the value of
	// its reference.
	Resolve(ctx context.Context, refs map[string]string) (map[string]string, error)
}

// Stats is a snapshot of the supervisor's counters, for metrics.
type Stats struct {
	// ActiveRuns counts runs held: claiming, running or reporting.
	ActiveRuns int
	// Capacity is the configured capacity.
	Capacity int
	// Draining reports whether the agent takes no new runs.
	Draining bool
	// RunsStarted and RunsFinished count runs launched and runs whose final
	// report was accepted.
	RunsStarted  int64
	RunsFinished int64
	// LogLinesDropped counts lines dropped because a run's buffer was full.
	LogLinesDropped int64
}

// Supervisor owns the agent's runs. Create it with [New] and start it with
// [Supervisor.Run].
type Supervisor struct {
	cfg     Config
	conn    *conn.Client
	log     *slog.Logger
	clk     clock.Clock
	logs    *logbuf.Shipper
	hbNow   chan struct{} // asks for a heartbeat now
	removed chan struct{} // signalled when a run is forgotten
	wg      sync.WaitGroup

	started  atomic.Int64
	finished atomic.Int64

	mu                sync.Mutex
	launcher          launch.Launcher
	poolType          string
	heartbeatInterval time.Duration
	leaseDuration     time.Duration
	draining          bool
	stopping          bool // the shutdown grace is over
	runs              map[runKey]*run
	agentID           string // from the Welcome; orders must be signed for it
	pool              string
	adopted           bool // survivors of an earlier life were handled
}

type runKey struct {
	runID   string
	attempt int32
}

func (k runKey) String() string { return fmt.Sprintf("%s/%d", k.runID, k.attempt) }

// run is one attempt the agent holds. Fields below mu are guarded by
// Supervisor.mu.
type run struct {
	key    runKey
	lease  *ferryv1.RunLease
	job    *ferryv1.JobSpec
	log    *slog.Logger
	cancel context.CancelCauseFunc // ends the run's context when it is abandoned

	claimed      bool
	deadline     time.Time // local lease deadline, once claimed
	handle       launch.Handle
	logs         *logbuf.Buffer
	cancelReason string // set when a cancel was requested
	shutdown     bool   // stopped because the agent shuts down
	abandoned    bool   // the lease is gone: stop, report nothing more
	refusal      string // why the order was refused; reported once claimed
	masker       *mask.Masker
	survivor     *launch.Survivor // set for a run re-adopted after a restart
}

// New returns a supervisor. It returns an error when cfg lacks a connection
// or a launcher, or when WorkDir is not absolute.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Conn == nil {
		return nil, errors.New("supervisor: no connection")
	}
	if len(cfg.Launchers) == 0 {
		return nil, errors.New("supervisor: no launcher")
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = defaultCapacity
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = defaultShutdownGrace
	}
	if cfg.WorkDir != "" && !filepath.IsAbs(cfg.WorkDir) {
		return nil, fmt.Errorf("supervisor: work dir %q is not absolute", cfg.WorkDir)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	logsCfg := cfg.Logs
	logsCfg.Sender = cfg.Conn
	logsCfg.Logger = cfg.Logger
	logsCfg.Clock = cfg.Clock
	return &Supervisor{
		cfg:               cfg,
		conn:              cfg.Conn,
		log:               cfg.Logger.With("component", "supervisor"),
		clk:               cfg.Clock,
		logs:              logbuf.New(logsCfg),
		hbNow:             make(chan struct{}, 1),
		removed:           make(chan struct{}, 1),
		heartbeatInterval: defaultHeartbeatInterval,
		leaseDuration:     defaultLeaseDuration,
		runs:              map[runKey]*run{},
	}, nil
}

// Stats returns a snapshot of the supervisor's counters. It is safe for
// concurrent use.
func (s *Supervisor) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		ActiveRuns:      len(s.runs),
		Capacity:        s.cfg.Capacity,
		Draining:        s.draining,
		RunsStarted:     s.started.Load(),
		RunsFinished:    s.finished.Load(),
		LogLinesDropped: s.logs.DroppedLines(),
	}
}

// Run serves work orders until ctx ends, then drains: it takes no new runs,
// waits up to the shutdown grace for the runs it holds, stops the rest and
// reports them, and returns nil. It returns early with an error when the
// control plane refuses the agent token (wrapping [conn.ErrUnauthorized]) or
// names a pool type without a launcher (wrapping [ErrUnsupportedPool]);
// runs still held are then stopped without a report.
func (s *Supervisor) Run(ctx context.Context) error {
	// Connection, log shipping and heartbeats outlive ctx: a draining agent
	// still reports its runs.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	connErr := make(chan error, 1)
	bg.Go(func() { connErr <- s.conn.Run(life) })
	bg.Go(func() { s.logs.Run(life) })
	bg.Go(func() { s.heartbeatLoop(life) })
	bg.Go(func() { s.fenceLoop(life) })

	err := s.loop(ctx, life, connErr)
	if err != nil {
		s.abandonAll(errAgentStopped)
	}
	s.wg.Wait()
	stop()
	bg.Wait()
	return err
}

// loop handles the stream's messages and the steps of a shutdown.
func (s *Supervisor) loop(ctx, life context.Context, connErr <-chan error) error {
	shutdown := ctx.Done()
	var graceOver, giveUp <-chan time.Time
	for {
		if shutdown == nil && s.held() == 0 {
			s.log.InfoContext(life, "agent drained")
			return nil
		}
		select {
		case <-shutdown:
			shutdown = nil
			s.drain(life)
			graceOver = s.clk.After(s.cfg.ShutdownGrace)
		case <-graceOver:
			s.stopAll(life)
			stopGrace := launch.Job{StopGrace: s.cfg.StopGrace}.EffectiveStopGrace()
			giveUp = s.clk.After(stopGrace + finalReportWait)
		case <-giveUp:
			s.log.ErrorContext(life, "runs still held at the shutdown deadline; leaving them unreported",
				"runs", s.held())
			s.abandonAll(errShutdown)
			return nil
		case <-s.removed:
		case err := <-connErr:
			return err
		case msg := <-s.conn.Events():
			if err := s.handle(life, msg); err != nil {
				return err
			}
		}
	}
}

func (s *Supervisor) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

// handle acts on one message of the stream. Work orders that arrive
// together are claimed together.
func (s *Supervisor) handle(ctx context.Context, msg *ferryv1.SubscribeResponse) error {
	switch {
	case msg.GetWelcome() != nil:
		return s.welcome(ctx, msg.GetWelcome())
	case msg.GetCancelRequest() != nil:
		s.cancelRequested(ctx, msg.GetCancelRequest())
	case msg.GetWorkOrder() != nil:
		orders := []*ferryv1.WorkOrder{msg.GetWorkOrder()}
		for {
			select {
			case next := <-s.conn.Events():
				if o := next.GetWorkOrder(); o != nil {
					orders = append(orders, o)
					continue
				}
				s.accept(ctx, orders)
				return s.handle(ctx, next)
			default:
				s.accept(ctx, orders)
				return nil
			}
		}
	}
	return nil
}

// welcome takes the session's settings and picks the launcher.
func (s *Supervisor) welcome(ctx context.Context, w *ferryv1.Welcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.launcher == nil:
		l, ok := s.cfg.Launchers[w.GetPoolType()]
		if !ok {
			return fmt.Errorf("%w: pool %q has type %q; this agent runs %s",
				ErrUnsupportedPool, w.GetPool(), w.GetPoolType(),
				strings.Join(slices.Sorted(maps.Keys(s.cfg.Launchers)), ", "))
		}
		s.launcher, s.poolType = l, w.GetPoolType()
	case w.GetPoolType() != s.poolType:
		return fmt.Errorf("%w: pool type changed from %q to %q; restart the agent",
			ErrUnsupportedPool, s.poolType, w.GetPoolType())
	}
	s.agentID, s.pool = w.GetAgentId(), w.GetPool()
	if !s.adopted {
		s.adopted = true
		if a, ok := s.launcher.(launch.Adopter); ok {
			s.wg.Go(func() { s.adopt(ctx, a) })
		}
	}
	s.heartbeatInterval = positiveOr(w.GetHeartbeatInterval().AsDuration(), defaultHeartbeatInterval)
	s.leaseDuration = positiveOr(w.GetLeaseDuration().AsDuration(), defaultLeaseDuration)
	if s.heartbeatInterval >= s.leaseDuration {
		s.log.WarnContext(ctx, "heartbeat interval is not shorter than the lease; runs will be stopped",
			"heartbeat_interval", s.heartbeatInterval, "lease_duration", s.leaseDuration)
	}
	// Report the runs still held at once, so the control plane reconciles
	// them with the new session.
	s.heartbeatSoon()
	return nil
}

func positiveOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (s *Supervisor) heartbeatSoon() {
	select {
	case s.hbNow <- struct{}{}:
	default:
	}
}

// accept reserves a slot for each order that fits and claims them.
func (s *Supervisor) accept(ctx context.Context, orders []*ferryv1.WorkOrder) {
	s.mu.Lock()
	if s.draining || s.launcher == nil {
		s.mu.Unlock()
		s.log.DebugContext(ctx, "work orders ignored: draining", "orders", len(orders))
		return
	}
	free := s.cfg.Capacity - len(s.runs)
	var batch []claim
	for _, o := range orders {
		k := runKey{runID: o.GetRunId(), attempt: o.GetAttempt()}
		switch {
		case s.runs[k] != nil:
			continue // offered again while held
		case free <= 0:
			s.log.DebugContext(ctx, "work order ignored: at capacity", "run_id", k.runID, "attempt", k.attempt)
			continue
		case o.GetJob() == nil:
			s.log.WarnContext(ctx, "work order ignored: no job", "run_id", k.runID, "attempt", k.attempt)
			continue
		}
		job, refusal := o.GetJob(), ""
		if s.cfg.Verifier != nil {
			signed, err := s.cfg.Verifier.Verify(o, s.agentID, s.clk.Now())
			switch {
			case err != nil:
				refusal = "work order refused: " + err.Error()
				s.log.WarnContext(ctx, "work order refused", "run_id", k.runID, "attempt", k.attempt, "error", err)
			case signed.GetRunId() != k.runID || signed.GetAttempt() != k.attempt || signed.GetLeaseToken() != o.GetLeaseToken():
				refusal = "work order refused: its clear fields differ from the signed order"
				s.log.WarnContext(ctx, "work order refused", "run_id", k.runID, "attempt", k.attempt, "error", refusal)
			default:
				job = signed.GetJob()
			}
		}
		runCtx, cancel := context.WithCancelCause(ctx)
		r := &run{
			key:     k,
			lease:   &ferryv1.RunLease{RunId: k.runID, Attempt: k.attempt, LeaseToken: o.GetLeaseToken()},
			job:     job,
			log:     s.log.With("run_id", k.runID, "attempt", k.attempt),
			cancel:  cancel,
			refusal: refusal,
		}
		s.runs[k] = r
		batch = append(batch, claim{ctx: runCtx, r: r})
		free--
	}
	s.mu.Unlock()
	if len(batch) > 0 {
		s.wg.Go(func() { s.claim(ctx, batch) })
	}
}

// claim pairs a run with the context that ends when it is abandoned.
type claim struct {
	ctx context.Context
	r   *run
}

// claim claims a batch of runs and launches those granted.
func (s *Supervisor) claim(ctx context.Context, batch []claim) {
	leases := make([]*ferryv1.RunLease, len(batch))
	for i, c := range batch {
		leases[i] = c.r.lease
	}
	s.mu.Lock()
	leaseDuration := s.leaseDuration
	s.mu.Unlock()
	// The control plane starts the lease when it receives the claim, which is
	// after now: a local deadline counted from now is never late.
	sent := s.clk.Now()
	claimCtx, cancel := context.WithTimeout(ctx, claimTimeout)
	results, err := s.conn.ClaimRuns(claimCtx, leases)
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "claim failed", "runs", len(batch), "error", err)
		for _, c := range batch {
			s.forget(c.r)
		}
		return
	}

	granted := map[string]*ferryv1.ClaimResult{}
	for _, res := range results {
		granted[res.GetRunId()] = res
	}
	for _, c := range batch {
		res := granted[c.r.key.runID]
		if !res.GetAccepted() {
			c.r.log.DebugContext(ctx, "claim refused", "reason", res.GetReason())
			s.forget(c.r)
			continue
		}
		s.mu.Lock()
		c.r.claimed = true
		c.r.deadline = sent.Add(leaseDuration)
		s.mu.Unlock()
		c.r.log.DebugContext(ctx, "run claimed")
		s.wg.Go(func() { s.execute(c.ctx, c.r) })
	}
}

// forget drops a run the agent no longer holds.
func (s *Supervisor) forget(r *run) {
	s.mu.Lock()
	delete(s.runs, r.key)
	s.mu.Unlock()
	s.cfg.Masks.Remove(r.key.String())
	r.cancel(nil)
	select {
	case s.removed <- struct{}{}:
	default:
	}
}
