package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const (
	// defaultServer is where ferry server listens when started without flags.
	defaultServer = "http://127.0.0.1:8080"
	// apiKeyFileName is the file in the data directory where ferry server
	// saves the admin API key on first start.
	apiKeyFileName = "admin-api-key"
	// callTimeout bounds each unary call; streams have no overall deadline
	// because they last as long as the run they follow.
	callTimeout = 30 * time.Second
	// dialTimeout bounds connecting to the server.
	dialTimeout = 10 * time.Second
	// tlsHandshakeTimeout bounds the TLS handshake with the server.
	tlsHandshakeTimeout = 10 * time.Second
	// idleConnTimeout closes pooled connections nobody used for this long.
	idleConnTimeout = 90 * time.Second
	// maxResponseBytes caps one response message, well above any page the
	// server sends.
	maxResponseBytes = 64 << 20
	// maxKeyFileBytes caps how much of the API key file is read.
	maxKeyFileBytes = 4096
)

// connFlags are the connection settings every client command accepts.
type connFlags struct {
	server         string
	apiKey         string
	dataDir        string
	allowPlainHTTP bool
}

// addConnFlags registers the connection flags on f.
func addConnFlags(f *commandFlags) *connFlags {
	c := &connFlags{}
	f.StringVar(&c.server, "server", "", "URL of the Ferry server (env FERRY_SERVER, default "+defaultServer+")")
	f.StringVar(&c.apiKey, "api-key", "", "API key (env FERRY_API_KEY, else the file "+apiKeyFileName+" in the data directory)")
	f.StringVar(&c.dataDir, "data-dir", "", "data directory holding "+apiKeyFileName+" (env FERRY_DATA_DIR, default $HOME/.local/share/ferry)")
	f.BoolVar(&c.allowPlainHTTP, "allow-plain-http", false, "send the API key over plain http:// to a host other than loopback")
	return c
}

// client holds the service clients of one command invocation and what its
// error messages need.
type client struct {
	server      string
	keyGiven    bool
	keyFilePath string
	// sessionFilePath is where ferry login keeps the session token.
	sessionFilePath string

	runs        ferryv1connect.RunServiceClient
	pools       ferryv1connect.WorkPoolServiceClient
	deployments ferryv1connect.DeploymentServiceClient
	tokens      ferryv1connect.AgentTokenServiceClient
	signingKeys ferryv1connect.SigningKeyServiceClient
	policies    ferryv1connect.PolicyServiceClient
	audit       ferryv1connect.AuditServiceClient
	auth        ferryv1connect.AuthServiceClient
	users       ferryv1connect.UserServiceClient
	apiKeys     ferryv1connect.APIKeyServiceClient
	schedules   ferryv1connect.ScheduleServiceClient
	limits      ferryv1connect.ConcurrencyLimitServiceClient
	pause       ferryv1connect.PauseServiceClient
	workspaces  ferryv1connect.WorkspaceServiceClient
}

// dial resolves the settings from flags and environment and builds the
// clients. It makes no network call.
func (c *connFlags) dial(env Env) (*client, error) {
	server := firstNonEmpty(c.server, env.Getenv("FERRY_SERVER"), defaultServer)
	base, err := checkServerURL(server, c.allowPlainHTTP)
	if err != nil {
		return nil, err
	}

	dataDir := firstNonEmpty(c.dataDir, env.Getenv("FERRY_DATA_DIR"))
	if dataDir == "" {
		if home := env.Getenv("HOME"); home != "" {
			dataDir = filepath.Join(home, ".local", "share", "ferry")
		}
	}
	keyFile, sessionFile := "", ""
	if dataDir != "" {
		keyFile = filepath.Join(dataDir, apiKeyFileName)
		sessionFile = filepath.Join(dataDir, sessionFileName)
	}
	// An explicit key wins; then the session of ferry login; then the
	// admin key of the local server.
	key := firstNonEmpty(c.apiKey, env.Getenv("FERRY_API_KEY"))
	for _, f := range []string{sessionFile, keyFile} {
		if key != "" || f == "" {
			continue
		}
		if key, err = readKeyFile(f); err != nil {
			return nil, err
		}
	}

	httpClient := newHTTPClient()
	opts := []connect.ClientOption{
		connect.WithInterceptors(bearerAuth{key: key}),
		connect.WithReadMaxBytes(maxResponseBytes),
	}
	return &client{
		server:          server,
		keyGiven:        key != "",
		keyFilePath:     keyFile,
		sessionFilePath: sessionFile,
		runs:            ferryv1connect.NewRunServiceClient(httpClient, base, opts...),
		pools:           ferryv1connect.NewWorkPoolServiceClient(httpClient, base, opts...),
		deployments:     ferryv1connect.NewDeploymentServiceClient(httpClient, base, opts...),
		tokens:          ferryv1connect.NewAgentTokenServiceClient(httpClient, base, opts...),
		signingKeys:     ferryv1connect.NewSigningKeyServiceClient(httpClient, base, opts...),
		policies:        ferryv1connect.NewPolicyServiceClient(httpClient, base, opts...),
		audit:           ferryv1connect.NewAuditServiceClient(httpClient, base, opts...),
		auth:            ferryv1connect.NewAuthServiceClient(httpClient, base, opts...),
		users:           ferryv1connect.NewUserServiceClient(httpClient, base, opts...),
		apiKeys:         ferryv1connect.NewAPIKeyServiceClient(httpClient, base, opts...),
		schedules:       ferryv1connect.NewScheduleServiceClient(httpClient, base, opts...),
		limits:          ferryv1connect.NewConcurrencyLimitServiceClient(httpClient, base, opts...),
		pause:           ferryv1connect.NewPauseServiceClient(httpClient, base, opts...),
		workspaces:      ferryv1connect.NewWorkspaceServiceClient(httpClient, base, opts...),
	}, nil
}

// checkServerURL validates the server URL and returns it without a
// trailing slash. Plain http is refused for hosts other than loopback
// unless allowPlain is set, because the API key would cross the network
// in clear text.
func checkServerURL(server string, allowPlain bool) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("server URL %q: want http://HOST[:PORT] or https://HOST[:PORT]", server)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server URL %q: must not hold credentials, a query or a fragment", server)
	}
	if u.Scheme == "http" && !allowPlain && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("refusing to send the API key in clear text to %s: use https://, or pass --allow-plain-http", u.Host)
	}
	return strings.TrimRight(server, "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readKeyFile reads an API key file; a missing file yields no key.
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read API key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes))
	if err != nil {
		return "", fmt.Errorf("read API key file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// newHTTPClient returns an HTTP/1.1 client. It has no overall timeout,
// since streams last as long as the run they follow; unary calls get a
// deadline from [callTimeout] through their context instead.
func newHTTPClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   4,
		Protocols:             protocols,
	}}
}

// bearerAuth sends the API key in the Authorization header of every call.
type bearerAuth struct{ key string }

// WrapUnary sets the header on unary calls.
func (b bearerAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b.key != "" {
			req.Header().Set("Authorization", "Bearer "+b.key)
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient sets the header on streaming calls.
func (b bearerAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b.key != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+b.key)
		}
		return conn
	}
}

// WrapStreamingHandler leaves handlers alone: the interceptor is client-side.
func (b bearerAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// unary makes one unary call under [callTimeout] and explains its error.
func unary[Req, Res any](
	ctx context.Context,
	c *client,
	action string,
	call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	req *Req,
) (*Res, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := call(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, c.explain(action, err)
	}
	return resp.Msg, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
