// Package httpguard protects the control plane's HTTP API from browsers
// acting for another site: CORS with an exact allow-list of origins, and a
// CSRF guard for calls authenticated by the session cookie. It is an
// [http.Handler] middleware in front of the Connect handlers; it never
// authenticates or authorizes anything itself.
//
// Why the CSRF rule suffices. A page on another site can make the victim's
// browser send the session cookie with a request, but without a CORS
// preflight only a "simple" request: GET, HEAD or POST, with a Content-Type
// of application/x-www-form-urlencoded, multipart/form-data or text/plain,
// and only safelisted headers. Every Connect call that changes something is
// a POST, so the guard requires of each cookie-carrying call to a mutating
// procedure a content type that is not simple (Connect's application/json
// or application/proto with the Connect-Protocol-Version header, or a
// Connect streaming, gRPC or gRPC-Web type). A browser only sends such a
// request cross-site after a preflight, which this package answers only for
// allowed origins. The Origin check is a second wall, for browsers that
// send Origin but misjudge what needs a preflight. Calls without the cookie
// carry credentials a foreign page cannot read (an Authorization header),
// so they are left alone.
package httpguard

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DefaultSessionCookie is the name of the browser session cookie.
const DefaultSessionCookie = "ferry_session"

// preflightMaxAge is how long, in seconds, a browser may cache a preflight
// answer: long enough to spare most round trips, short enough that removing
// an origin takes effect within the hour.
const preflightMaxAge = 3600

// allowedMethods are the methods Connect uses: POST, and GET for
// side-effect-free procedures.
var allowedMethods = []string{http.MethodGet, http.MethodPost}

// allowedHeaders are the request headers a browser client of Connect,
// gRPC-Web and Ferry may send cross-origin.
var allowedHeaders = []string{
	"Authorization",
	"Connect-Accept-Encoding",
	"Connect-Content-Encoding",
	"Connect-Protocol-Version",
	"Connect-Timeout-Ms",
	"Content-Encoding",
	"Content-Type",
	"Ferry-Request-Id",
	"Grpc-Accept-Encoding",
	"Grpc-Timeout",
	"X-Grpc-Web",
	"X-User-Agent",
}

// exposedHeaders are the response headers a cross-origin script may read:
// Connect's and gRPC-Web's status headers, and the request id.
var exposedHeaders = []string{
	"Connect-Content-Encoding",
	"Content-Encoding",
	"Ferry-Request-Id",
	"Grpc-Encoding",
	"Grpc-Message",
	"Grpc-Status",
	"Grpc-Status-Details-Bin",
	"Retry-After",
}

// Config configures a [Guard].
type Config struct {
	// AllowedOrigins lists the origins, such as "https://ferry.example.com",
	// whose pages may call the API with credentials. Exact matches only;
	// "*" is refused. Default none: only same-origin pages and non-browser
	// clients.
	AllowedOrigins []string
	// SessionCookie names the cookie whose presence makes a call subject to
	// the CSRF guard. Default [DefaultSessionCookie].
	SessionCookie string
	// Mutating reports whether a request path names a procedure that may
	// change something. Default [MutatingProcedure].
	Mutating func(path string) bool
}

// Guard is the CORS and CSRF middleware. It is safe for concurrent use.
type Guard struct {
	origins  map[string]bool
	cookie   string
	mutating func(string) bool
}

// New returns a Guard for cfg. It fails on an origin that is not of the
// form scheme://host[:port].
func New(cfg Config) (*Guard, error) {
	g := &Guard{origins: make(map[string]bool), cookie: cfg.SessionCookie, mutating: cfg.Mutating}
	if g.cookie == "" {
		g.cookie = DefaultSessionCookie
	}
	if g.mutating == nil {
		g.mutating = MutatingProcedure
	}
	for _, o := range cfg.AllowedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		g.origins[norm] = true
	}
	return g, nil
}

// normalizeOrigin checks a configured origin and returns it as browsers
// send it: lower-case scheme and host, no default port, no trailing slash.
func normalizeOrigin(o string) (string, error) {
	if o == "*" || o == "null" || strings.Contains(o, "*") {
		return "", fmt.Errorf("--cors-origin %q: list each origin exactly; a wildcard or null origin cannot be allowed with credentials", o)
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("--cors-origin %q: want scheme://host[:port], such as https://ferry.example.com", o)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}

// Handler returns next behind the guard.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && g.origins[origin]
		// The answer depends on Origin, so no cache may serve it to another.
		w.Header().Add("Vary", "Origin")

		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			g.preflight(w, r, origin, allowed)
			return
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", strings.Join(exposedHeaders, ", "))
		}

		if err := g.checkCSRF(r, origin, allowed); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight: 204 with the permissions for an
// allowed origin, 403 without any for another.
func (g *Guard) preflight(w http.ResponseWriter, r *http.Request, origin string, allowed bool) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	method := r.Header.Get("Access-Control-Request-Method")
	if !allowed || !slices.Contains(allowedMethods, method) || !headersAllowed(r.Header.Values("Access-Control-Request-Headers")) {
		http.Error(w, "cross-origin request refused: the origin, method or headers are not allowed", http.StatusForbidden)
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", strings.Join(allowedMethods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(allowedHeaders, ", "))
	h.Set("Access-Control-Max-Age", strconv.Itoa(preflightMaxAge))
	w.WriteHeader(http.StatusNoContent)
}

// headersAllowed reports whether every header a preflight asks for is in
// allowedHeaders.
func headersAllowed(values []string) bool {
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !slices.ContainsFunc(allowedHeaders, func(a string) bool { return strings.EqualFold(a, name) }) {
				return false
			}
		}
	}
	return true
}

// Errors of the CSRF guard; their text reaches the client.
var (
	errCSRFContentType = errors.New("cross-site request refused: a call authenticated by the session cookie " +
		"that changes something must be a Connect request (Content-Type application/json or application/proto " +
		"with Connect-Protocol-Version: 1) or a gRPC-Web request")
	errCSRFOrigin = errors.New("cross-site request refused: the Origin of this call authenticated by the " +
		"session cookie is not allowed; add it with --cors-origin")
)

// checkCSRF refuses a cookie-authenticated call to a mutating procedure
// that a foreign page could have sent: see the package comment.
func (g *Guard) checkCSRF(r *http.Request, origin string, allowed bool) error {
	// GET and HEAD change nothing: Connect serves GET only for procedures
	// without side effects, and the web UI's files are static.
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if _, err := r.Cookie(g.cookie); err != nil || !g.mutating(r.URL.Path) {
		return nil
	}
	if !rpcRequest(r) {
		return errCSRFContentType
	}
	if origin != "" && !allowed && !sameOrigin(r, origin) {
		return errCSRFOrigin
	}
	return nil
}

// rpcRequest reports whether r is a Connect, gRPC or gRPC-Web request by a
// content type that no browser sends cross-site without a preflight.
func rpcRequest(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	switch {
	case mt == "application/json", mt == "application/proto":
		return r.Header.Get("Connect-Protocol-Version") == "1"
	case strings.HasPrefix(mt, "application/connect+"),
		mt == "application/grpc", strings.HasPrefix(mt, "application/grpc+"),
		mt == "application/grpc-web", strings.HasPrefix(mt, "application/grpc-web+"),
		mt == "application/grpc-web-text", strings.HasPrefix(mt, "application/grpc-web-text+"):
		return true
	}
	return false
}

// sameOrigin reports whether origin names the host the request was sent
// to, as a page served by the control plane itself calls it. Behind a
// proxy that ends TLS, X-Forwarded-Proto gives the scheme; believing it is
// safe here, since a page cannot add that header to a cross-site request
// without a preflight.
func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp := r.Header.Get("X-Forwarded-Proto"); fp != "" {
		scheme = fp
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// MutatingProcedure reports whether path ("/ferry.v1.RunService/CreateRun")
// names a procedure whose idempotency level, in its proto method options,
// is not NO_SIDE_EFFECTS. A path that names no known procedure counts as
// mutating.
func MutatingProcedure(path string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return true
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service + "." + method))
	if err != nil {
		return true
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return true
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	return !ok || opts.GetIdempotencyLevel() != descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}
