// Package server assembles the control plane: database (embedded or
// external), migrations, bootstrap, the Connect services behind their
// interceptors, and the background loops (notification listener,
// dispatcher, lease reaper).
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/audit"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dispatch"
	"github.com/ferryhq/ferry/controlplane/internal/httpguard"
	"github.com/ferryhq/ferry/controlplane/internal/identity"
	"github.com/ferryhq/ferry/controlplane/internal/lease"
	"github.com/ferryhq/ferry/controlplane/internal/migrate"
	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/pgembed"
	"github.com/ferryhq/ferry/controlplane/internal/policystore"
	"github.com/ferryhq/ferry/controlplane/internal/ratelimit"
	"github.com/ferryhq/ferry/controlplane/internal/schedule"
	"github.com/ferryhq/ferry/controlplane/internal/signing"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/controlplane/internal/webui"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
	"github.com/ferryhq/ferry/queries"
)

// Config configures a control-plane process. Zero durations take defaults.
type Config struct {
	// Addr is the listen address. Default 127.0.0.1:8080.
	Addr string
	// DataDir holds the embedded PostgreSQL cluster and the admin key file.
	DataDir string
	// DatabaseURL selects an external PostgreSQL 14+; empty runs the embedded one.
	DatabaseURL string
	// LeaseDuration is how long a claim lasts without a heartbeat. Default 30s.
	LeaseDuration time.Duration
	// HeartbeatInterval is how often agents heartbeat. Default LeaseDuration/3.
	HeartbeatInterval time.Duration
	// KeepaliveInterval is how often idle agent streams carry a keepalive. Default 15s.
	KeepaliveInterval time.Duration
	// OfferTTL is how long an agent has to claim an offered run. Default 10s.
	OfferTTL time.Duration
	// ReaperGrace delays lease expiry after start. Default LeaseDuration.
	ReaperGrace time.Duration
	// LateAfter is how far past its expected start a scheduled run must be
	// before the API names it Late. Default 30s.
	LateAfter time.Duration
	// MaxBodyBytes caps a request body. Default 8 MiB.
	MaxBodyBytes int64
	// Stdout receives the one-time admin key message.
	Stdout *os.File
	// SigningKEKFile holds the key-encryption key that seals the work-order
	// signing keys: 32 bytes, raw or in base64. Every replica must use the
	// same one. Default <DataDir>/signing-kek, created on first start; when
	// set, the file must exist.
	SigningKEKFile string
	// SigningKEK is the key-encryption key itself. Run fills it from
	// SigningKEKFile; callers of New set it directly. When nil, New wires
	// no signer: work orders go out unsigned, and agents refuse them.
	SigningKEK *signing.KEK
	// AuthPepperFile holds the server secret that keys the stored hashes of
	// API keys, agent tokens and sessions. Every replica must use the same
	// one. Default <DataDir>/auth-pepper, created on first start.
	AuthPepperFile string
	// AuthPepper is the pepper itself; Run fills it from AuthPepperFile.
	// When nil, New serves no login, user or API-key service.
	AuthPepper *auth.Pepper
	// BootstrapAdminEmail and BootstrapAdminPasswordFile, when both set,
	// create an owner user of the default workspace on first start.
	BootstrapAdminEmail        string
	BootstrapAdminPasswordFile string
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For the audit trail believes.
	TrustedProxies []audit.Proxy
	// RateLimit bounds the calls per credential; zero values take defaults.
	RateLimit ratelimit.Config
	// Admission holds the settings of the built-in admission policy; nil
	// takes its defaults.
	Admission map[string]any

	// withoutAuthz leaves the authorization interceptor out of the chain.
	// Only this package's benchmarks set it, to measure what authorization
	// costs a call. It is unexported on purpose: no flag, environment
	// variable or other package can turn authorization off.
	withoutAuthz bool
}

// authPepperFileName is the default pepper file in the data directory.
const authPepperFileName = "auth-pepper"

// loadAuthPepper returns the configured pepper, creating the default file
// in the data directory on first start.
func loadAuthPepper(cfg Config) (*auth.Pepper, error) {
	switch {
	case cfg.AuthPepper != nil:
		return cfg.AuthPepper, nil
	case cfg.AuthPepperFile != "":
		p, err := auth.ReadPepperFile(cfg.AuthPepperFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--auth-pepper-file %s does not exist: create it once with 32 random bytes "+
				"(head -c 32 /dev/urandom > %[1]s; chmod 600 %[1]s) and give every replica the same file", cfg.AuthPepperFile)
		}
		return p, err
	case cfg.DataDir != "":
		return auth.LoadOrCreatePepperFile(filepath.Join(cfg.DataDir, authPepperFileName))
	}
	return nil, errors.New("no --auth-pepper-file and no --data-dir: stored credential hashes need a " +
		"server secret; pass --auth-pepper-file (FERRY_AUTH_PEPPER_FILE), the same file on every replica")
}

// signingKEKFileName is the default key-encryption key file in the data
// directory.
const signingKEKFileName = "signing-kek"

// loadSigningKEK returns the configured key-encryption key, creating the
// default file in the data directory on first start.
func loadSigningKEK(cfg Config) (*signing.KEK, error) {
	switch {
	case cfg.SigningKEK != nil:
		return cfg.SigningKEK, nil
	case cfg.SigningKEKFile != "":
		kek, err := signing.ReadKEKFile(cfg.SigningKEKFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--signing-kek-file %s does not exist: create it once with 32 random bytes "+
				"(head -c 32 /dev/urandom > %[1]s; chmod 600 %[1]s) and give every replica the same file", cfg.SigningKEKFile)
		}
		return kek, err
	case cfg.DataDir != "":
		return signing.LoadOrCreateKEKFile(filepath.Join(cfg.DataDir, signingKEKFileName))
	}
	return nil, errors.New("no --signing-kek-file and no --data-dir: the work-order signing keys need a " +
		"key-encryption key; pass --signing-kek-file (FERRY_SIGNING_KEK_FILE), the same file on every replica")
}

func (c *Config) fill() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 30 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = c.LeaseDuration / 3
	}
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = 15 * time.Second
	}
	if c.OfferTTL <= 0 {
		c.OfferTTL = 10 * time.Second
	}
	if c.ReaperGrace <= 0 {
		c.ReaperGrace = c.LeaseDuration
	}
	if c.LateAfter <= 0 {
		c.LateAfter = api.DefaultLateAfter
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
}

// OpenDatabase returns a pool to the configured database, starting the
// embedded cluster when no URL is given; stop releases both.
func OpenDatabase(ctx context.Context, cfg Config, log *slog.Logger) (pool *pgxpool.Pool, stop func(), err error) {
	url := cfg.DatabaseURL
	var cluster *pgembed.Cluster
	if url == "" {
		if cfg.DataDir == "" {
			return nil, nil, errors.New("no --database-url and no --data-dir: one is needed")
		}
		cluster, err = pgembed.Start(ctx, pgembed.Config{Dir: filepath.Join(cfg.DataDir, "postgres"), Logger: log})
		if err != nil {
			return nil, nil, err
		}
		url = cluster.ConnString("postgres")
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database URL: %w", err)
	}
	pcfg.AfterConnect = store.RegisterUUID
	if pcfg.MaxConns < 32 {
		pcfg.MaxConns = 32
	}
	pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	stop = func() {
		if pool != nil {
			pool.Close()
		}
		if cluster != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				log.Warn("stop embedded PostgreSQL", slog.Any("error", err))
			}
		}
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, stop, nil
}

// Migrate applies pending migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) ([]string, error) {
	return migrate.Apply(ctx, pool, queries.MigrationsDir(), log)
}

// Run serves until ctx ends, then shuts down cleanly.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg.fill()
	pool, stopDB, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDB()
	if _, err := Migrate(ctx, pool, log); err != nil {
		return err
	}
	clk := clock.Real{}
	st := store.New(pool)
	if cfg.SigningKEK, err = loadSigningKEK(cfg); err != nil {
		return err
	}
	if cfg.AuthPepper, err = loadAuthPepper(cfg); err != nil {
		return err
	}
	boot, err := bootstrap.Ensure(ctx, st, cfg.DataDir, clk.Now())
	if err != nil {
		return err
	}
	if cfg.BootstrapAdminEmail != "" && cfg.BootstrapAdminPasswordFile != "" {
		pw, err := identity.ReadPasswordFile(cfg.BootstrapAdminPasswordFile, os.Stdin)
		if err != nil {
			return err
		}
		if _, err := identity.EnsureOwner(ctx, st, boot.WorkspaceID, cfg.BootstrapAdminEmail, pw, identity.DefaultPasswordParams(), clk.Now()); err != nil {
			return err
		}
	}
	if boot.AdminKey != "" {
		fmt.Fprintf(cfg.Stdout, "\nCreated workspace %q and an admin API key (shown only now):\n\n    %s\n\n", bootstrap.DefaultWorkspace, boot.AdminKey)
		if boot.KeyFile != "" {
			fmt.Fprintf(cfg.Stdout, "It was saved with mode 0600 in %s, where the ferry CLI finds it.\n\n", boot.KeyFile)
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	app, err := New(ctx, cfg, st, clk, log)
	if err != nil {
		ln.Close()
		return err
	}
	return app.Serve(ctx, ln)
}

// App is a running control plane's HTTP side and background loops.
type App struct {
	cfg      Config
	log      *slog.Logger
	Store    *store.Store
	Hub      *dispatch.Hub
	Listener *notify.Listener
	Reaper   *lease.Reaper
	// Scheduler creates the runs of schedules; one replica leads at a time.
	Scheduler *schedule.Scheduler
	Applier   *transition.Applier
	Auth      *auth.Authenticator
	// Signer signs work orders; nil when Config.SigningKEK was not set.
	Signer  *signing.Signer
	Handler http.Handler
}

// New wires the services over st. It fails when a built-in policy or a
// setting does not compile.
func New(ctx context.Context, cfg Config, st *store.Store, clk clock.Clock, log *slog.Logger) (*App, error) {
	cfg.fill()
	applier := transition.NewApplier(cfg.LeaseDuration)
	schedules := &schedule.Service{Store: st, Clock: clk, Log: log.With(slog.String("component", "schedule")), Applier: applier}
	scheduler := &schedule.Scheduler{Store: st, Clock: clk, Log: log.With(slog.String("component", "scheduler"))}
	keys := signing.NewKeyring(st, cfg.SigningKEK)
	access, err := newAccessControl(ctx, cfg, st, clk, log)
	if err != nil {
		return nil, err
	}
	dcfg := dispatch.Config{OfferTTL: cfg.OfferTTL, Applier: applier, Admit: access.admitRun}
	var signer *signing.Signer
	if cfg.SigningKEK != nil {
		signer = signing.NewSigner(keys, clk, log.With(slog.String("component", "signing")))
		dcfg.Signer = signer
	}
	hub := dispatch.NewHub(dcfg, st, clk, log.With(slog.String("component", "dispatch")))
	listener := notify.NewListener(st.Pool, log.With(slog.String("component", "notify")),
		transition.ChannelDispatch, transition.ChannelRunChanged, transition.ChannelLogs, transition.ChannelCancel,
		signing.Channel, auth.ChannelRevoke, policystore.Channel)
	keysChanged := func() {}
	if signer != nil {
		keysChanged = signer.Poke
		listener.Subscribe(signing.Channel, func(string) { signer.Poke() })
	}
	listener.Subscribe(transition.ChannelDispatch, hub.OnDispatch)
	listener.Subscribe(transition.ChannelCancel, hub.OnCancel)
	authn := auth.New(auth.Config{Queries: st.Q, Clock: clk, Pepper: cfg.AuthPepper})
	authn.Observe = audit.ObservePrincipal
	// Cached credentials go first, so an agent whose stream the hub closes
	// cannot call again on a stale cache entry.
	listener.Subscribe(auth.ChannelRevoke, func(payload string) {
		authn.Forget()
		hub.OnRevoke(payload)
	})
	reaper := &lease.Reaper{Store: st, Applier: applier, Clock: clk, Log: log.With(slog.String("component", "lease")), Grace: cfg.ReaperGrace}

	listener.Subscribe(policystore.Channel, access.policies.Invalidate)
	auditor := audit.NewInterceptor(audit.Config{TrustedProxies: cfg.TrustedProxies}, st.Q, clk, log.With(slog.String("component", "audit")))
	limiter := ratelimit.New(cfg.RateLimit, clk)
	guard, err := httpguard.New(httpguard.Config{AllowedOrigins: cfg.CORSOrigins})
	if err != nil {
		return nil, err
	}

	// Outermost first: the audit trail sees every outcome, authentication
	// runs before the rate limit (keyed by credential) and authorization,
	// and validation runs only for calls that may proceed.
	chain := []connect.Interceptor{auditor, authn.Interceptor(), limiter.Interceptor()}
	if !cfg.withoutAuthz {
		chain = append(chain, access.authz.Interceptor())
	}
	chain = append(chain, validate.Interceptor())
	opts := connect.WithHandlerOptions(
		connect.WithInterceptors(chain...),
		connect.WithReadMaxBytes(int(cfg.MaxBodyBytes)),
		connect.WithCompressMinBytes(1024),
	)
	apiLog := log.With(slog.String("component", "api"))
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&api.WorkPoolServer{Store: st, Clock: clk, Log: apiLog, HeartbeatInterval: cfg.HeartbeatInterval}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&api.DeploymentServer{Store: st, Clock: clk, Log: apiLog, Admission: access.admission}, opts))
	mux.Handle(ferryv1connect.NewConcurrencyLimitServiceHandler(&api.ConcurrencyLimitServer{Store: st, Clock: clk, Log: apiLog}, opts))
	mux.Handle(ferryv1connect.NewPauseServiceHandler(&api.PauseServer{Store: st, Clock: clk, Log: apiLog}, opts))
	mux.Handle(ferryv1connect.NewScheduleServiceHandler(&api.ScheduleServer{Service: schedules, Clock: clk, Log: apiLog}, opts))
	mux.Handle(ferryv1connect.NewAuditServiceHandler(&api.AuditServer{Q: st.Q, Log: apiLog}, opts))
	mux.Handle(ferryv1connect.NewPolicyServiceHandler(&api.PolicyServer{Policies: access.policies, Log: apiLog}, opts))
	if cfg.AuthPepper != nil {
		ids := identity.New(identity.Config{Store: st, Clock: clk, Pepper: cfg.AuthPepper, Log: log.With(slog.String("component", "identity"))})
		mux.Handle(ferryv1connect.NewAuthServiceHandler(&api.AuthServer{Identity: ids, Store: st, Log: apiLog, OnRevoke: authn.Forget}, opts))
		mux.Handle(ferryv1connect.NewUserServiceHandler(&api.UserServer{Store: st, Clock: clk, Log: apiLog, Password: ids.PasswordParams(), OnRevoke: authn.Forget}, opts))
		mux.Handle(ferryv1connect.NewAPIKeyServiceHandler(&api.APIKeyServer{Store: st, Clock: clk, Log: apiLog, Pepper: cfg.AuthPepper, OnRevoke: authn.Forget}, opts))
	}
	mux.Handle(ferryv1connect.NewAgentTokenServiceHandler(&api.AgentTokenServer{Store: st, Clock: clk, Log: apiLog, OnRevoke: authn.Forget}, opts))
	mux.Handle(ferryv1connect.NewRunServiceHandler(&api.RunServer{Store: st, Clock: clk, Log: apiLog, Hub: hub, Applier: applier, Listener: listener, LateAfter: cfg.LateAfter}, opts))
	// The first workspace's admins and owners administer the installation:
	// its signing keys and its workspaces.
	installation := func(ctx context.Context) (uuid.UUID, error) {
		ws, err := st.Q.WorkspaceGetByName(ctx, bootstrap.DefaultWorkspace)
		return ws.ID, err
	}
	mux.Handle(ferryv1connect.NewSigningKeyServiceHandler(&api.SigningKeyServer{
		Keys: keys, Clock: clk, Log: apiLog, OnChange: keysChanged, InstallationWorkspace: installation,
	}, opts))
	mux.Handle(ferryv1connect.NewWorkspaceServiceHandler(&api.WorkspaceServer{
		Store: st, Clock: clk, Log: apiLog, InstallationWorkspace: installation,
	}, opts))
	mux.Handle(ferryv1connect.NewAgentServiceHandler(&api.AgentServer{
		Store: st, Clock: clk, Log: apiLog, Hub: hub, Applier: applier,
		HeartbeatInterval: cfg.HeartbeatInterval, KeepaliveInterval: cfg.KeepaliveInterval,
	}, opts))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Pool.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	ui, err := webui.New()
	if err != nil {
		return nil, err
	}
	if !ui.Built() {
		log.Warn("this binary carries no web UI build; / explains how to build it")
	}
	// The UI takes every path no API route claims (a pattern without a
	// method, so the Connect services' prefixes stay more specific).
	mux.Handle("/", ui)
	return &App{
		cfg: cfg, log: log, Store: st, Hub: hub, Listener: listener, Reaper: reaper, Scheduler: scheduler, Applier: applier, Auth: authn,
		Signer:  signer,
		Handler: http.MaxBytesHandler(guard.Handler(mux), cfg.MaxBodyBytes),
	}, nil
}

// Serve runs the background loops and serves HTTP/1.1 and h2c on ln until
// ctx ends.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	loops := []func(context.Context){a.Listener.Run, a.Hub.Run, a.Reaper.Run, a.Scheduler.Run}
	if a.Signer != nil {
		// A key-encryption key that does not open the signing keys stops
		// the start here, before any order could go out unsigned.
		if err := a.Signer.Start(ctx); err != nil {
			return err
		}
		loops = append(loops, a.Signer.Run)
	} else {
		a.log.WarnContext(ctx, "work orders are not signed: no signing key-encryption key configured; agents will refuse them")
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(bg)
		}()
	}
	defer func() {
		stopBG()
		wg.Wait()
	}()
	select {
	case <-a.Listener.Ready():
	case <-ctx.Done():
		return nil
	}

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           a.Handler,
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return bg },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.InfoContext(ctx, "control plane listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Streams never end by themselves: cancel them, then wait briefly for
	// unary calls in flight.
	stopBG()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	a.log.Info("control plane stopped")
	return nil
}
