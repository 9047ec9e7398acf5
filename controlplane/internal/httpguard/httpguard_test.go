package httpguard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/httpguard"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

const allowedOrigin = "https://ui.example.com"

// pools answers ApplyWorkPool and ListWorkPools and counts the calls that
// reached it.
type pools struct {
	ferryv1connect.UnimplementedWorkPoolServiceHandler
	calls atomic.Int32
}

func (p *pools) ApplyWorkPool(context.Context, *connect.Request[ferryv1.ApplyWorkPoolRequest]) (*connect.Response[ferryv1.ApplyWorkPoolResponse], error) {
	p.calls.Add(1)
	return connect.NewResponse(&ferryv1.ApplyWorkPoolResponse{}), nil
}

func (p *pools) ListWorkPools(context.Context, *connect.Request[ferryv1.ListWorkPoolsRequest]) (*connect.Response[ferryv1.ListWorkPoolsResponse], error) {
	p.calls.Add(1)
	return connect.NewResponse(&ferryv1.ListWorkPoolsResponse{}), nil
}

// setup serves WorkPoolService behind a guard allowing allowedOrigin.
func setup(t *testing.T) (*httptest.Server, *pools) {
	t.Helper()
	g, err := httpguard.New(httpguard.Config{AllowedOrigins: []string{allowedOrigin + "/", "HTTP://Localhost:5173"}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p := &pools{}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(p))
	srv := httptest.NewServer(g.Handler(mux))
	t.Cleanup(srv.Close)
	return srv, p
}

func TestNewRefusesWildcards(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"*", "null", "https://*.example.com", "ui.example.com", "https://ui.example.com/app", "ftp://x"} {
		if _, err := httpguard.New(httpguard.Config{AllowedOrigins: []string{o}}); err == nil {
			t.Errorf("New with origin %q succeeded, want an error", o)
		}
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	srv, p := setup(t)
	tests := []struct {
		name    string
		origin  string
		method  string
		headers string
		allowed bool
	}{
		{name: "allowed origin", origin: allowedOrigin, method: "POST", headers: "content-type, connect-protocol-version", allowed: true},
		{name: "allowed origin normalized in config", origin: "http://localhost:5173", method: "POST", headers: "Content-Type", allowed: true},
		{name: "gRPC-Web headers", origin: allowedOrigin, method: "POST", headers: "content-type,x-grpc-web,x-user-agent,grpc-timeout", allowed: true},
		{name: "GET for reads", origin: allowedOrigin, method: "GET", allowed: true},
		{name: "foreign origin", origin: "https://evil.example.net", method: "POST", headers: "content-type"},
		{name: "origin differing in scheme", origin: "http://ui.example.com", method: "POST", headers: "content-type"},
		{name: "method not used by Connect", origin: allowedOrigin, method: "DELETE"},
		{name: "unknown header", origin: allowedOrigin, method: "POST", headers: "content-type, x-secret-sauce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodOptions, srv.URL+ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", tt.method)
			if tt.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tt.headers)
			}
			resp := do(t, req)
			h := resp.Header
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
			}
			if h.Get("Access-Control-Allow-Origin") == "*" {
				t.Fatal("Access-Control-Allow-Origin is *")
			}
			if !tt.allowed {
				if resp.StatusCode != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
					t.Fatalf("status %d, Allow-Origin %q; want 403 and none", resp.StatusCode, h.Get("Access-Control-Allow-Origin"))
				}
				return
			}
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d, want 204", resp.StatusCode)
			}
			for k, want := range map[string]string{
				"Access-Control-Allow-Origin":      tt.origin,
				"Access-Control-Allow-Credentials": "true",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), tt.method) {
				t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), tt.method)
			}
		})
	}
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("%d preflights reached the handler", n)
	}
}

func TestCORSOnCalls(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	for _, tt := range []struct {
		origin  string
		allowed bool
	}{{allowedOrigin, true}, {"https://evil.example.net", false}} {
		req := connectPost(t, srv.URL, ferryv1connect.WorkPoolServiceListWorkPoolsProcedure, tt.origin)
		resp := do(t, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("origin %s: status %d, want 200", tt.origin, resp.StatusCode)
		}
		got := resp.Header.Get("Access-Control-Allow-Origin")
		switch {
		case tt.allowed && got != tt.origin:
			t.Errorf("origin %s: Allow-Origin %q, want it echoed", tt.origin, got)
		case tt.allowed && !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status"):
			t.Errorf("Expose-Headers %q lacks Grpc-Status", resp.Header.Get("Access-Control-Expose-Headers"))
		case !tt.allowed && got != "":
			t.Errorf("origin %s: Allow-Origin %q, want none", tt.origin, got)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	apply := ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure
	list := ferryv1connect.WorkPoolServiceListWorkPoolsProcedure
	tests := []struct {
		name        string
		procedure   string
		method      string // default POST
		contentType string
		// connectHeader sends Connect-Protocol-Version: 1.
		connectHeader bool
		origin        string
		cookie        bool
		sameOrigin    bool
		wantStatus    int
	}{
		{name: "form post with cookie", procedure: apply, contentType: "application/x-www-form-urlencoded", cookie: true, wantStatus: http.StatusForbidden},
		{name: "multipart post with cookie", procedure: apply, contentType: "multipart/form-data; boundary=x", cookie: true, wantStatus: http.StatusForbidden},
		{name: "text post with cookie", procedure: apply, contentType: "text/plain", origin: "https://evil.example.net", cookie: true, wantStatus: http.StatusForbidden},
		{name: "JSON without protocol header, with cookie", procedure: apply, contentType: "application/json", cookie: true, wantStatus: http.StatusForbidden},
		{name: "JSON from allowed origin with cookie", procedure: apply, contentType: "application/json", connectHeader: true, origin: allowedOrigin, cookie: true, wantStatus: http.StatusOK},
		{name: "JSON from foreign origin with cookie", procedure: apply, contentType: "application/json", connectHeader: true, origin: "https://evil.example.net", cookie: true, wantStatus: http.StatusForbidden},
		{name: "JSON from the same origin with cookie", procedure: apply, contentType: "application/json", connectHeader: true, cookie: true, sameOrigin: true, wantStatus: http.StatusOK},
		{name: "JSON without Origin with cookie", procedure: apply, contentType: "application/json", connectHeader: true, cookie: true, wantStatus: http.StatusOK},
		{name: "gRPC-Web from allowed origin with cookie", procedure: apply, contentType: "application/grpc-web+proto", origin: allowedOrigin, cookie: true, wantStatus: http.StatusOK},
		{name: "form post without cookie reaches Connect", procedure: apply, contentType: "application/x-www-form-urlencoded", wantStatus: http.StatusUnsupportedMediaType},
		{name: "JSON from foreign origin without cookie", procedure: apply, contentType: "application/json", connectHeader: true, origin: "https://evil.example.net", wantStatus: http.StatusOK},
		{name: "read from foreign origin with cookie", procedure: list, contentType: "application/json", connectHeader: true, origin: "https://evil.example.net", cookie: true, wantStatus: http.StatusOK},
		// GET passes the guard: Connect itself refuses GET for a procedure
		// with side effects, so nothing changes.
		{name: "GET of a mutating procedure with cookie", procedure: apply, method: http.MethodGet, origin: "https://evil.example.net", cookie: true, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, p := setup(t)
			body := "{}"
			if strings.HasPrefix(tt.contentType, "application/grpc-web") {
				// An empty message in one gRPC-Web data frame.
				body = "\x00\x00\x00\x00\x00"
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, srv.URL+tt.procedure, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.connectHeader {
				req.Header.Set("Connect-Protocol-Version", "1")
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.sameOrigin {
				req.Header.Set("Origin", srv.URL)
			}
			if tt.cookie {
				req.AddCookie(&http.Cookie{Name: httpguard.DefaultSessionCookie, Value: "session-value"})
			}
			resp := do(t, req)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			reached := p.calls.Load() == 1
			if wantReached := tt.wantStatus == http.StatusOK; reached != wantReached {
				t.Fatalf("handler reached: %v, want %v", reached, wantReached)
			}
		})
	}
}

// connectPost builds a Connect unary JSON request.
func connectPost(t *testing.T, base, procedure, origin string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+procedure, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Origin", origin)
	return req
}

// do sends req and returns the response with its body read and closed.
func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp
}
