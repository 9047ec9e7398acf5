package conn_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/agent/internal/conn"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestCheckServerURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		insecure bool
		wantErr  string
	}{
		{url: "https://ferry.example.com"},
		{url: "https://ferry.example.com/prefix"},
		{url: "http://127.0.0.1:8080"},
		{url: "http://127.1.2.3"},
		{url: "http://localhost:8080"},
		{url: "http://[::1]:8080"},
		{url: "http://ferry.internal:8080", insecure: true},
		{url: "http://ferry.internal:8080", wantErr: "refusing plain HTTP"},
		{url: "http://10.0.0.5", wantErr: "refusing plain HTTP"},
		{url: "http://localhost.evil.example", wantErr: "refusing plain HTTP"},
		{url: "ftp://ferry.example.com", wantErr: "scheme"},
		{url: "ferry.example.com:8080", wantErr: "scheme"},
		{url: "https://", wantErr: "no host"},
		{url: "", wantErr: "empty"},
		{url: "https://user:pw@ferry.example.com", wantErr: "credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := conn.CheckServerURL(tt.url, tt.insecure)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckServerURL(%q) = %v, want no error", tt.url, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckServerURL(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

// bundle is a running client connected to a fake control plane.
type bundle struct {
	srv    *agenttest.Server
	client *conn.Client
	events chan *ferryv1.SubscribeResponse
	done   chan error
}

func setup(t *testing.T, opts agenttest.Options, token string) *bundle {
	t.Helper()
	srv := agenttest.New(t, opts)
	if token == "" {
		token = agenttest.Token
	}
	c, err := conn.New(conn.Config{
		ServerURL:   srv.URL,
		Token:       token,
		Name:        "test-agent",
		Capacity:    1,
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
		CallTimeout: time.Second,
	})
	if err != nil {
		t.Fatalf("conn.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bundle{srv: srv, client: c, events: make(chan *ferryv1.SubscribeResponse, 100), done: make(chan error, 1)}
	go func() { b.done <- c.Run(ctx) }()
	go func() {
		for {
			select {
			case msg := <-c.Events():
				b.events <- msg
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

func (b *bundle) waitSubscribes(t *testing.T, n int) {
	t.Helper()
	b.srv.WaitFor(t, "streams", func(s *agenttest.Server) bool { return s.Subscribes() >= n && s.Connected() })
}

func (b *bundle) next(t *testing.T) *ferryv1.SubscribeResponse {
	t.Helper()
	select {
	case msg := <-b.events:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

func TestEventsSkipKeepalives(t *testing.T) {
	t.Parallel()
	b := setup(t, agenttest.Options{KeepaliveInterval: 100 * time.Millisecond}, "")
	if w := b.next(t).GetWelcome(); w == nil || w.GetPoolType() != "process" {
		t.Fatalf("first event is not the welcome: %v", w)
	}
	b.srv.WaitFor(t, "keepalives", func(s *agenttest.Server) bool { return s.Keepalives() >= 2 && s.Connected() })
	o := b.srv.Offer(t, &ferryv1.JobSpec{Command: []string{"true"}})
	b.srv.CancelOnStream(t, o.GetRunId(), "stop")
	if got := b.next(t).GetWorkOrder(); got.GetRunId() != o.GetRunId() {
		t.Fatalf("second event = %v, want the work order", got)
	}
	if got := b.next(t).GetCancelRequest(); got.GetRunId() != o.GetRunId() || got.GetReason() != "stop" {
		t.Fatalf("third event = %v, want the cancel request", got)
	}
	if !b.client.Connected() {
		t.Error("Connected() = false on an open stream")
	}
}

func TestReconnects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  agenttest.Options
		cause func(t *testing.T, b *bundle)
	}{
		{
			name:  "stream dropped",
			cause: func(_ *testing.T, b *bundle) { b.srv.DropStream() },
		},
		{
			name:  "silent stream",
			opts:  agenttest.Options{SilentStream: true, KeepaliveInterval: 20 * time.Millisecond},
			cause: func(*testing.T, *bundle) {},
		},
		{
			name: "heartbeat answered resubscribe",
			cause: func(t *testing.T, b *bundle) {
				b.srv.ForgetSession()
				res, err := b.client.Heartbeat(context.Background(), nil)
				if err != nil {
					t.Fatalf("Heartbeat: %v", err)
				}
				if !res.GetResubscribe() {
					t.Fatal("heartbeat of a forgotten session not answered resubscribe")
				}
			},
		},
		{
			name: "call refused for the session",
			cause: func(t *testing.T, b *bundle) {
				b.srv.ForgetSession()
				// Refused with FailedPrecondition, then retried on the new session.
				if _, err := b.client.ReportStates(context.Background(), nil); err != nil {
					t.Fatalf("ReportStates: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts, "")
			b.waitSubscribes(t, 1)
			tt.cause(t, b)
			b.waitSubscribes(t, 2)
			if b.client.Reconnects() < 1 {
				t.Errorf("Reconnects() = %d after a new stream", b.client.Reconnects())
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		code     connect.Code
		times    int
		wantCode connect.Code // zero: the call succeeds
		fatal    bool
	}{
		{name: "unavailable is retried", code: connect.CodeUnavailable, times: 3},
		{name: "resource exhausted is retried", code: connect.CodeResourceExhausted, times: 2},
		{name: "invalid argument is returned", code: connect.CodeInvalidArgument, times: 1, wantCode: connect.CodeInvalidArgument},
		{name: "revoked token is final", code: connect.CodeUnauthenticated, times: 1, fatal: true},
		{name: "permission denied is final", code: connect.CodePermissionDenied, times: 1, fatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, agenttest.Options{}, "")
			b.waitSubscribes(t, 1)
			b.srv.Fail("ClaimRuns", tt.code, tt.times)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := b.client.ClaimRuns(ctx, []*ferryv1.RunLease{{RunId: "r", Attempt: 1, LeaseToken: 1}})
			switch {
			case tt.fatal:
				if !errors.Is(err, conn.ErrUnauthorized) {
					t.Fatalf("ClaimRuns = %v, want an error wrapping ErrUnauthorized", err)
				}
				select {
				case runErr := <-b.done:
					b.done <- runErr
					if !errors.Is(runErr, conn.ErrUnauthorized) {
						t.Fatalf("Run returned %v, want an error wrapping ErrUnauthorized", runErr)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Run did not return after the token was refused")
				}
			case tt.wantCode != 0:
				if connect.CodeOf(err) != tt.wantCode {
					t.Fatalf("ClaimRuns = %v, want code %v", err, tt.wantCode)
				}
			case err != nil:
				t.Fatalf("ClaimRuns = %v, want success after retries", err)
			}
		})
	}
}

func TestTokenIsSentAndRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	// A redirect to another host must not carry the token there.
	leaked := make(chan string, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked <- r.Header.Get("Authorization")
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(other.Close)
	seen := make(chan string, 10)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Authorization")
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	c, err := conn.New(conn.Config{ServerURL: redirector.URL, Token: "secret-token", Name: "a"})
	if err != nil {
		t.Fatalf("conn.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case got := <-seen:
		if got != "Bearer secret-token" {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the server")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
	select {
	case got := <-leaked:
		t.Errorf("redirect followed; the other host received Authorization %q", got)
	default:
	}
}
