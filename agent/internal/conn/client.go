package conn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// Defaults for [Config] fields left zero.
const (
	// defaultMinBackoff is the first reconnect or retry delay ceiling.
	defaultMinBackoff = 200 * time.Millisecond
	// defaultMaxBackoff caps the delay, so that an agent finds a restarted
	// control plane within half a minute.
	defaultMaxBackoff = 30 * time.Second
	// defaultCallTimeout bounds one attempt of a unary call, and the wait for
	// the Welcome that opens a stream.
	defaultCallTimeout = 10 * time.Second
	// defaultKeepaliveInterval is assumed when a Welcome names none.
	defaultKeepaliveInterval = 15 * time.Second
	// idleKeepalives is how many keepalive intervals of silence make the
	// stream count as dead.
	idleKeepalives = 3
)

// ErrUnauthorized is returned, wrapped, once the control plane has refused
// the agent token (revoked, expired or unknown). It is final: the client
// makes no further call.
var ErrUnauthorized = errors.New("conn: control plane refused the agent token")

var (
	errStreamIdle   = errors.New("no message from the control plane within three keepalive intervals")
	errResubscribe  = errors.New("control plane asked for a new stream")
	errStreamClosed = errors.New("stream closed by the control plane")
	errNoWelcome    = errors.New("stream did not open with a welcome")
)

// Config configures a [Client].
type Config struct {
	// ServerURL is the control plane's base URL, such as https://ferry.example.com.
	ServerURL string
	// Token is the agent token sent as a bearer token.
	Token string
	// InsecureHTTP allows a plain http:// ServerURL whose host is not loopback.
	InsecureHTTP bool
	// Name, Version and Capacity describe the agent in each Subscribe request.
	Name     string
	Version  string
	Capacity int32
	// HTTPClient sends the requests; nil means a client built by [NewHTTPClient].
	// The client must not follow redirects, or the token could be replayed to
	// another host.
	HTTPClient *http.Client
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Clock times backoff delays and the stream watchdog; nil means the real clock.
	Clock clock.Clock
	// MinBackoff is the ceiling of the first retry delay; default 200ms.
	MinBackoff time.Duration
	// MaxBackoff caps retry delays; default 30s.
	MaxBackoff time.Duration
	// CallTimeout bounds each attempt of a unary call; default 10s.
	CallTimeout time.Duration
}

// Client is the agent's connection to the control plane. Start it with
// [Client.Run]; its call methods are safe for concurrent use and wait for the
// first session before sending anything.
type Client struct {
	cfg    Config
	log    *slog.Logger
	clk    clock.Clock
	rpc    ferryv1connect.AgentServiceClient
	events chan *ferryv1.SubscribeResponse
	resub  chan struct{}

	draining  atomic.Bool
	connected atomic.Bool
	reconnect atomic.Int64

	mu         sync.Mutex
	session    string
	sessionSet chan struct{} // closed when session changes to a non-empty value

	fatalOnce sync.Once
	fatalErr  error
	fatal     chan struct{}
}

// New validates cfg and returns a client. It returns an error when the URL is
// malformed, when it is plain HTTP to a host that is not loopback and
// cfg.InsecureHTTP is false, or when the token or name is empty.
func New(cfg Config) (*Client, error) {
	u, err := CheckServerURL(cfg.ServerURL, cfg.InsecureHTTP)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("conn: agent token is empty")
	}
	if cfg.Name == "" {
		return nil, errors.New("conn: agent name is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = NewHTTPClient()
	}
	authed := *httpClient
	authed.Transport = &bearerTransport{base: httpClient.Transport, token: cfg.Token}

	return &Client{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "conn"),
		clk:        cfg.Clock,
		rpc:        ferryv1connect.NewAgentServiceClient(&authed, strings.TrimSuffix(u.String(), "/")),
		events:     make(chan *ferryv1.SubscribeResponse),
		resub:      make(chan struct{}, 1),
		sessionSet: make(chan struct{}),
		fatal:      make(chan struct{}),
	}, nil
}

// CheckServerURL parses raw as a control plane URL. It accepts https:// URLs,
// and http:// URLs whose host is loopback (localhost, 127.0.0.0/8, ::1) or,
// when insecureHTTP is true, any host.
func CheckServerURL(raw string, insecureHTTP bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("conn: server URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("conn: parse server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("conn: server URL scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("conn: server URL %q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("conn: server URL %q must not carry credentials, a query or a fragment", u.Redacted())
	}
	if u.Scheme == "https" || isLoopback(u.Hostname()) || insecureHTTP {
		return u, nil
	}
	return nil, fmt.Errorf("conn: refusing plain HTTP to %s, which is not loopback: "+
		"the agent token would cross the network unencrypted (use https, or --insecure-http to accept the risk)", u.Host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPClient returns the HTTP client the agent uses by default: the
// standard transport (HTTP/2 over TLS, HTTP/1.1 otherwise, proxies from the
// environment) without an overall timeout, since the stream is long-lived, and
// without following redirects.
func NewHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// bearerTransport adds the agent token to every request.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

// RoundTrip sends a copy of req carrying the token, leaving req untouched as
// http.RoundTripper requires.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.token)
	return base.RoundTrip(req)
}

// Events delivers every message of the stream except keepalives: a Welcome
// when a stream (re)opens, then WorkOrders and CancelRequests. The receiver
// must keep reading: a blocked channel stalls the stream.
func (c *Client) Events() <-chan *ferryv1.SubscribeResponse { return c.events }

// SetDraining sets the draining flag sent with every later Subscribe and
// Heartbeat request.
func (c *Client) SetDraining(draining bool) { c.draining.Store(draining) }

// Connected reports whether a stream is open and has been welcomed.
func (c *Client) Connected() bool { return c.connected.Load() }

// Reconnects returns how many times the stream has been reopened.
func (c *Client) Reconnects() int64 { return c.reconnect.Load() }

// Resubscribe closes the current stream so that [Client.Run] opens a new one.
func (c *Client) Resubscribe() {
	select {
	case c.resub <- struct{}{}:
	default:
	}
}

// Run keeps a stream open until ctx ends, reconnecting as needed. It returns
// nil when ctx ends, and an error wrapping [ErrUnauthorized] as soon as the
// control plane refuses the token, whether on the stream or on a unary call.
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.fatal:
			cancel()
		case <-ctx.Done():
		}
	}()

	bo := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for {
		healthy, err := c.subscribe(ctx)
		c.connected.Store(false)
		if isAuthError(err) {
			c.setFatal(err)
		}
		if ctx.Err() != nil || isAuthError(err) {
			return c.exitError()
		}
		if healthy {
			bo.reset()
		}
		delay := bo.next()
		c.log.WarnContext(ctx, "stream lost", "error", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return c.exitError()
		case <-c.clk.After(delay):
		}
		c.reconnect.Add(1)
	}
}

// exitError is what Run returns once it stops: the refusal of the token, if
// that is why, else nil.
func (c *Client) exitError() error {
	select {
	case <-c.fatal:
		return c.fatalErr
	default:
		return nil
	}
}

// subscribe runs one stream until it fails. healthy reports whether the
// stream worked (welcomed, then carried at least one more message), which
// resets the reconnect backoff.
func (c *Client) subscribe(ctx context.Context) (healthy bool, err error) {
	// A resubscribe asked for before this stream opened is answered by it.
	select {
	case <-c.resub:
	default:
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := c.rpc.Subscribe(ctx, connect.NewRequest(&ferryv1.SubscribeRequest{
		Name:     c.cfg.Name,
		Version:  c.cfg.Version,
		Capacity: c.cfg.Capacity,
		Draining: c.draining.Load(),
	}))
	if err != nil {
		return false, fmt.Errorf("open stream: %w", err)
	}
	defer stream.Close()

	var idleLimit atomic.Int64
	idleLimit.Store(int64(c.cfg.CallTimeout)) // until the Welcome names the keepalive interval
	activity := make(chan struct{}, 1)
	go c.watch(ctx, cancel, activity, &idleLimit)

	welcomed := false
	for stream.Receive() {
		select {
		case activity <- struct{}{}:
		default:
		}
		msg := stream.Msg()
		switch m := msg.GetMessage().(type) {
		case *ferryv1.SubscribeResponse_Welcome:
			welcomed = true
			keepalive := m.Welcome.GetKeepaliveInterval().AsDuration()
			if keepalive <= 0 {
				keepalive = defaultKeepaliveInterval
			}
			idleLimit.Store(int64(idleKeepalives * keepalive))
			c.setSession(m.Welcome.GetSessionId())
			c.connected.Store(true)
			c.log.InfoContext(ctx, "agent connected",
				"session_id", m.Welcome.GetSessionId(),
				"agent_id", m.Welcome.GetAgentId(),
				"pool", m.Welcome.GetPool())
		case nil:
			continue // a message kind this agent does not know
		default:
			if !welcomed {
				return false, errNoWelcome
			}
			healthy = true
		}
		if _, ok := msg.GetMessage().(*ferryv1.SubscribeResponse_Keepalive); ok {
			continue
		}
		select {
		case c.events <- msg:
		case <-ctx.Done():
			return healthy, streamError(ctx, nil)
		}
	}
	return healthy, streamError(ctx, stream.Err())
}

// watch cancels the stream when it stays silent past the idle limit or when a
// new stream is asked for.
func (c *Client) watch(
	ctx context.Context,
	cancel context.CancelCauseFunc,
	activity <-chan struct{},
	idleLimit *atomic.Int64,
) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-activity:
		case <-c.resub:
			cancel(errResubscribe)
			return
		case <-c.clk.After(time.Duration(idleLimit.Load())):
			cancel(errStreamIdle)
			return
		}
	}
}

// streamError says why a stream ended: the watchdog's cause when it cut the
// stream, else the stream's own error.
func streamError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err == nil {
		return errStreamClosed
	}
	return fmt.Errorf("receive: %w", err)
}

func (c *Client) setSession(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == c.session || id == "" {
		return
	}
	c.session = id
	close(c.sessionSet)
	c.sessionSet = make(chan struct{})
}

// forgetSession drops id if it is still the current session, so that calls
// wait for the next one.
func (c *Client) forgetSession(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == id {
		c.session = ""
	}
}

// waitSession returns the current session id, waiting for one if needed.
func (c *Client) waitSession(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		id, set := c.session, c.sessionSet
		c.mu.Unlock()
		if id != "" {
			return id, nil
		}
		select {
		case <-set:
		case <-c.fatal:
			return "", c.fatalErr
		case <-ctx.Done():
			return "", fmt.Errorf("wait for a session: %w", context.Cause(ctx))
		}
	}
}

func (c *Client) setFatal(err error) {
	c.fatalOnce.Do(func() {
		c.fatalErr = fmt.Errorf("%w: %w", ErrUnauthorized, err)
		close(c.fatal)
	})
}

func isAuthError(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return true
	}
	return false
}

// isRetryable reports whether a failed call may succeed if sent again: the
// server was unreachable, overloaded or too slow, or the transport broke.
func isRetryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeAborted,
		connect.CodeResourceExhausted, connect.CodeUnknown, connect.CodeInternal:
		return true
	}
	return false
}
