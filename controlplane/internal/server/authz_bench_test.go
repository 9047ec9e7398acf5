package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/authz"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// These benchmarks give the authorization figures of `make bench`. They
// live here rather than in bench/loaddriver because the driver cannot
// import the control plane's internal packages, and because a server
// without authorization must never be something the shipped binary can be
// asked to start: only this package can set Config.withoutAuthz.

// authzSamples is how many authorizations BenchmarkAuthorizeOverhead
// times one by one.
const authzSamples = 20000

// BenchmarkAuthorizeOverhead times single authorizations with the
// built-in policy, as the server wires it (the workspace's uploaded
// policies are looked up, and it has none), for a developer's API key
// reading a run, and reports the median and 99th percentile in
// microseconds (authz_p50_us, authz_p99_us).
func BenchmarkAuthorizeOverhead(b *testing.B) {
	ctx := context.Background()
	st := store.New(dbtest.Pool(b))
	boot, err := bootstrap.Ensure(ctx, st, "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	access, err := newAccessControl(ctx, Config{}, st, clock.Real{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	in := authz.Input{
		Subject:   authz.Subject{Kind: "apikey", ID: "apikey:ab12cd34", Role: "developer", WorkspaceID: boot.WorkspaceID},
		Procedure: ferryv1connect.RunServiceGetRunProcedure,
		Resource:  map[string]string{"type": "run", "id": "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10"},
	}
	authorize := func() {
		d, err := access.authz.Authorize(ctx, in)
		if err != nil || !d.Allow {
			b.Fatalf("Authorize: %+v, %v", d, err)
		}
	}
	// Warm up: the first call loads the workspace's (empty) policy set.
	for range 1000 {
		authorize()
	}
	samples := make([]time.Duration, authzSamples)
	for b.Loop() {
		for i := range samples {
			start := time.Now()
			authorize()
			samples[i] = time.Since(start)
		}
	}
	slices.Sort(samples)
	b.ReportMetric(micros(samples[len(samples)/2]), "authz_p50_us")
	b.ReportMetric(micros(samples[len(samples)*99/100]), "authz_p99_us")
}

// BenchmarkCheapRead measures RunService/GetRun calls per second from
// concurrent callers over loopback HTTP against an in-process server, with
// the authorization interceptor and without it; the rest of the chain
// (audit, authentication, rate limit, validation) and the handler are the
// same. Each sub-benchmark reports cheap_read_calls_per_s.
func BenchmarkCheapRead(b *testing.B) {
	for _, tc := range []struct {
		name         string
		withoutAuthz bool
	}{
		{"policy=on", false},
		{"policy=off", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			runs, id := cheapReadServer(b, tc.withoutAuthz)
			const callers = 8
			var calls atomic.Int64
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for int(calls.Add(1)) <= b.N {
						if _, err := runs.GetRun(ctx, connect.NewRequest(&ferryv1.GetRunRequest{Id: id})); err != nil {
							b.Errorf("GetRun: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cheap_read_calls_per_s")
		})
	}
}

// cheapReadServer serves a control plane on loopback, with a deployment
// and one run, and returns an admin client and the run's id.
func cheapReadServer(b *testing.B, withoutAuthz bool) (ferryv1connect.RunServiceClient, string) {
	b.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(b))
	clk := clock.Real{}
	boot, err := bootstrap.Ensure(ctx, st, "", clk.Now())
	if err != nil {
		b.Fatal(err)
	}
	// A rate limit far above what the benchmark reaches keeps the limiter
	// in the chain without refusing calls.
	cfg := Config{withoutAuthz: withoutAuthz}
	cfg.RateLimit.Rate = 1e9
	cfg.RateLimit.Burst = 1e9
	app, err := New(ctx, cfg, st, clk, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- app.Serve(sctx, ln) }()
	b.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.Cleanup(hc.CloseIdleConnections)
	url := "http://" + ln.Addr().String()
	opt := connect.WithInterceptors(bearerKey(boot.AdminKey))
	if _, err := ferryv1connect.NewWorkPoolServiceClient(hc, url, opt).ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "bench", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
	})); err != nil {
		b.Fatal(err)
	}
	if _, err := ferryv1connect.NewDeploymentServiceClient(hc, url, opt).ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: "bench", Spec: &ferryv1.DeploymentSpec{Pool: "bench", Command: []string{"true"}},
	})); err != nil {
		b.Fatal(err)
	}
	runs := ferryv1connect.NewRunServiceClient(hc, url, opt)
	r, err := runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "bench"}}))
	if err != nil {
		b.Fatal(err)
	}
	return runs, r.Msg.GetRun().GetId()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// bearerKey sends an API key on every unary call.
type bearerKey string

func (k bearerKey) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(k))
		return next(ctx, req)
	}
}

func (k bearerKey) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (k bearerKey) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
