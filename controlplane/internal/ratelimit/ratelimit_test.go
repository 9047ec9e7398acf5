package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/ratelimit"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// credentialHeader names the test caller's credential; agentHeader makes
// it an agent.
const (
	credentialHeader = "Test-Credential"
	agentHeader      = "Test-Agent"
)

type pools struct {
	ferryv1connect.UnimplementedWorkPoolServiceHandler
}

func (pools) ListWorkPools(context.Context, *connect.Request[ferryv1.ListWorkPoolsRequest]) (*connect.Response[ferryv1.ListWorkPoolsResponse], error) {
	return connect.NewResponse(&ferryv1.ListWorkPoolsResponse{}), nil
}

// setup serves WorkPoolService over HTTP behind a stand-in authentication
// and the limiter, on a fake clock.
func setup(t *testing.T, cfg ratelimit.Config) (ferryv1connect.WorkPoolServiceClient, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	lim := ratelimit.New(cfg, fake)
	authn := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			id, err := uuid.Parse(req.Header().Get(credentialHeader))
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("no credential"))
			}
			p := auth.Principal{Kind: auth.KindAPIKey, CredentialID: id}
			if req.Header().Get(agentHeader) != "" {
				p.Kind = auth.KindAgent
			}
			return next(auth.WithPrincipal(ctx, p), req)
		}
	})
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(pools{}, connect.WithInterceptors(authn, lim.Interceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ferryv1connect.NewWorkPoolServiceClient(srv.Client(), srv.URL), fake
}

func list(c ferryv1connect.WorkPoolServiceClient, cred uuid.UUID, agent bool) error {
	req := connect.NewRequest(&ferryv1.ListWorkPoolsRequest{})
	req.Header().Set(credentialHeader, cred.String())
	if agent {
		req.Header().Set(agentHeader, "1")
	}
	_, err := c.ListWorkPools(context.Background(), req)
	return err
}

// burst makes calls until one is refused and returns how many passed,
// failing the test if none is refused within max calls.
func burst(t *testing.T, c ferryv1connect.WorkPoolServiceClient, cred uuid.UUID, agent bool, max int) (int, *connect.Error) {
	t.Helper()
	for i := range max + 1 {
		err := list(c, cred, agent)
		if err == nil {
			continue
		}
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
			t.Fatalf("call %d: %v, want ResourceExhausted", i+1, err)
		}
		return i, ce
	}
	t.Fatalf("no call refused after %d", max+1)
	return 0, nil
}

func TestLimit(t *testing.T) {
	t.Parallel()
	c, fake := setup(t, ratelimit.Config{Rate: 2, Burst: 5, AgentRate: 10, AgentBurst: 20})
	key, other, agent := uuid.New(), uuid.New(), uuid.New()

	passed, refusal := burst(t, c, key, false, 5)
	if passed != 5 {
		t.Fatalf("%d calls passed before the refusal, want the burst of 5", passed)
	}
	if !strings.Contains(refusal.Message(), "retry after 500ms") {
		t.Errorf("message %q does not say when to retry (500ms at 2/s)", refusal.Message())
	}
	if got := refusal.Meta().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}

	// Other credentials have their own buckets; agents a larger one.
	if err := list(c, other, false); err != nil {
		t.Fatalf("another key: %v", err)
	}
	if passed, _ := burst(t, c, agent, true, 20); passed != 20 {
		t.Fatalf("%d agent calls passed, want the agent burst of 20", passed)
	}

	// Half a second at 2/s refills one token: one call, then a refusal.
	fake.Advance(500 * time.Millisecond)
	if passed, _ := burst(t, c, key, false, 5); passed != 1 {
		t.Fatalf("%d calls passed after 500ms, want 1", passed)
	}
	// After long enough, the whole burst is back and no more.
	fake.Advance(time.Hour)
	if passed, _ := burst(t, c, key, false, 5); passed != 5 {
		t.Fatalf("%d calls passed after an hour, want the burst of 5", passed)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, ratelimit.Config{})
	key, agent := uuid.New(), uuid.New()
	if passed, _ := burst(t, c, key, false, 100); passed != 100 {
		t.Fatalf("%d calls passed, want the default burst of 100", passed)
	}
	if passed, _ := burst(t, c, agent, true, 1000); passed != 1000 {
		t.Fatalf("%d agent calls passed, want the default agent burst of 1000", passed)
	}
}

// TestSweep checks that the sweep of idle buckets, which runs once a
// minute, keeps a bucket that has not refilled: dropping it would hand the
// credential a fresh burst.
func TestSweep(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	lim := ratelimit.New(ratelimit.Config{Rate: 0.01, Burst: 2}, fake)
	p := auth.Principal{Kind: auth.KindAPIKey, CredentialID: uuid.New()}
	for range 2 {
		if ok, _ := lim.Allow(p); !ok {
			t.Fatal("call within the burst refused")
		}
	}
	// 61s at 0.01/s refill 0.61 tokens: the sweep runs, the call is refused.
	fake.Advance(61 * time.Second)
	if ok, wait := lim.Allow(p); ok || wait != 39*time.Second {
		t.Fatalf("Allow = %v, %v; want refused, 39s", ok, wait)
	}
	// 200s at 0.01/s refill the bucket: the sweep drops it, and it comes
	// back with the burst, not more.
	fake.Advance(200 * time.Second)
	for i := range 3 {
		ok, _ := lim.Allow(p)
		if want := i < 2; ok != want {
			t.Fatalf("call %d after the refill: allowed %v, want %v", i+1, ok, want)
		}
	}
}
