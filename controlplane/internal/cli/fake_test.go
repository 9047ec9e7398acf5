package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// testAPIKey is the key the fake server accepts.
const testAPIKey = "fry_test_0123456789"

// baseTime is the time the fake server's objects are stamped with.
var baseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ts(offset time.Duration) *timestamppb.Timestamp {
	return timestamppb.New(baseTime.Add(offset))
}

// fakeServer is an in-process Ferry server on loopback implementing what
// the tests need. Its maps are guarded by mu.
type fakeServer struct {
	url string

	mu          sync.Mutex
	pools       map[string]*ferryv1.WorkPool
	queues      map[string]*ferryv1.WorkQueue
	deployments map[string]*ferryv1.Deployment
	// mutations counts calls that changed something.
	mutations   int
	authHeaders []string

	createReqs []*ferryv1.CreateRunRequest
	listReqs   []*ferryv1.ListRunsRequest
	listResp   *ferryv1.ListRunsResponse
	logPages   map[string]*ferryv1.ListRunLogsResponse
	logReqs    []*ferryv1.ListRunLogsRequest
	followReqs []*ferryv1.FollowRunLogsRequest
	// scripts, by deployment name, say how a created run goes.
	scripts map[string]runScript
	runs    map[string]runScript
	// holdWatch makes WatchRun block after its states until the client
	// goes away; watchHeld is closed when it starts blocking.
	holdWatch bool
	watchHeld chan struct{}
}

// runScript is the life of one run: the states WatchRun sends and the log
// lines FollowRunLogs sends.
type runScript struct {
	states []*ferryv1.Run
	logs   []*ferryv1.LogLine
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		pools:       map[string]*ferryv1.WorkPool{},
		queues:      map[string]*ferryv1.WorkQueue{},
		deployments: map[string]*ferryv1.Deployment{},
		scripts:     map[string]runScript{},
		runs:        map[string]runScript{},
		logPages:    map[string]*ferryv1.ListRunLogsResponse{},
		watchHeld:   make(chan struct{}),
	}
	opts := connect.WithInterceptors(fakeAuth{f: f})
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(fakePools{f: f}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(fakeDeployments{f: f}, opts))
	mux.Handle(ferryv1connect.NewRunServiceHandler(fakeRuns{f: f}, opts))
	mux.Handle(ferryv1connect.NewAgentTokenServiceHandler(fakeTokens{f: f}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// cliResult is what one ferry invocation printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// run invokes the CLI against the fake with the test key, TZ=UTC and a
// HOME without a key file; env overrides those variables.
func (f *fakeServer) run(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	return f.runContext(t, context.Background(), "", env, args...)
}

func (f *fakeServer) runContext(t *testing.T, ctx context.Context, stdin string, env map[string]string, args ...string) cliResult {
	t.Helper()
	vars := map[string]string{
		"FERRY_SERVER":  f.url,
		"FERRY_API_KEY": testAPIKey,
		"TZ":            "UTC",
		"HOME":          t.TempDir(),
	}
	for k, v := range env {
		vars[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := Main(ctx, Env{
		Stdout: &stdout,
		Stderr: &stderr,
		Stdin:  strings.NewReader(stdin),
		Getenv: func(k string) string { return vars[k] },
	}, args)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// fakeAuth refuses calls without the test key and records the header.
type fakeAuth struct{ f *fakeServer }

func (a fakeAuth) check(h http.Header) error {
	a.f.mu.Lock()
	a.f.authHeaders = append(a.f.authHeaders, h.Get("Authorization"))
	a.f.mu.Unlock()
	if h.Get("Authorization") != "Bearer "+testAPIKey {
		return connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("invalid API key"))
	}
	return nil
}

func (a fakeAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a fakeAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a fakeAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

type fakePools struct {
	ferryv1connect.UnimplementedWorkPoolServiceHandler
	f *fakeServer
}

func (s fakePools) ListWorkPools(context.Context, *connect.Request[ferryv1.ListWorkPoolsRequest]) (*connect.Response[ferryv1.ListWorkPoolsResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	resp := &ferryv1.ListWorkPoolsResponse{}
	for _, p := range s.f.pools {
		resp.WorkPools = append(resp.WorkPools, proto.CloneOf(p))
	}
	return connect.NewResponse(resp), nil
}

func (s fakePools) ApplyWorkPool(_ context.Context, req *connect.Request[ferryv1.ApplyWorkPoolRequest]) (*connect.Response[ferryv1.ApplyWorkPoolResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	m := req.Msg
	_, existed := s.f.pools[m.GetName()]
	s.f.mutations++
	p := &ferryv1.WorkPool{
		Name: m.GetName(), Type: m.GetType(), Description: m.GetDescription(),
		Paused: m.GetPaused(), ConcurrencyLimit: m.GetConcurrencyLimit(),
	}
	s.f.pools[m.GetName()] = p
	if !existed {
		// Like the real server, a new pool comes with its default queue.
		s.f.queues[m.GetName()+"/default"] = &ferryv1.WorkQueue{Pool: m.GetName(), Name: "default"}
	}
	return connect.NewResponse(&ferryv1.ApplyWorkPoolResponse{WorkPool: p, Created: !existed}), nil
}

func (s fakePools) ListWorkQueues(_ context.Context, req *connect.Request[ferryv1.ListWorkQueuesRequest]) (*connect.Response[ferryv1.ListWorkQueuesResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.pools[req.Msg.GetPool()]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("work pool %q not found", req.Msg.GetPool()))
	}
	resp := &ferryv1.ListWorkQueuesResponse{}
	for _, q := range s.f.queues {
		if q.GetPool() == req.Msg.GetPool() {
			resp.WorkQueues = append(resp.WorkQueues, proto.CloneOf(q))
		}
	}
	return connect.NewResponse(resp), nil
}

func (s fakePools) ApplyWorkQueue(_ context.Context, req *connect.Request[ferryv1.ApplyWorkQueueRequest]) (*connect.Response[ferryv1.ApplyWorkQueueResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	m := req.Msg
	if _, ok := s.f.pools[m.GetPool()]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("work pool %q not found", m.GetPool()))
	}
	key := m.GetPool() + "/" + m.GetName()
	_, existed := s.f.queues[key]
	s.f.mutations++
	q := &ferryv1.WorkQueue{
		Pool: m.GetPool(), Name: m.GetName(), Priority: m.GetPriority(),
		Paused: m.GetPaused(), ConcurrencyLimit: m.GetConcurrencyLimit(),
	}
	s.f.queues[key] = q
	return connect.NewResponse(&ferryv1.ApplyWorkQueueResponse{WorkQueue: q, Created: !existed}), nil
}

type fakeDeployments struct {
	ferryv1connect.UnimplementedDeploymentServiceHandler
	f *fakeServer
}

func (s fakeDeployments) ApplyDeployment(_ context.Context, req *connect.Request[ferryv1.ApplyDeploymentRequest]) (*connect.Response[ferryv1.ApplyDeploymentResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	m := req.Msg
	d, ok := s.f.deployments[m.GetName()]
	if ok && proto.Equal(d.GetSpec(), m.GetSpec()) {
		return connect.NewResponse(&ferryv1.ApplyDeploymentResponse{Deployment: proto.CloneOf(d)}), nil
	}
	s.f.mutations++
	if !ok {
		d = &ferryv1.Deployment{Id: "dep-" + m.GetName(), Name: m.GetName(), CreateTime: ts(0)}
		s.f.deployments[m.GetName()] = d
	}
	d.Version++
	d.Spec = proto.CloneOf(m.GetSpec())
	d.UpdateTime = ts(time.Minute)
	return connect.NewResponse(&ferryv1.ApplyDeploymentResponse{Deployment: proto.CloneOf(d), Changed: true}), nil
}

// ListDeployments lists the deployments by name, of one pool when asked,
// in a single page.
func (s fakeDeployments) ListDeployments(_ context.Context, req *connect.Request[ferryv1.ListDeploymentsRequest]) (*connect.Response[ferryv1.ListDeploymentsResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	resp := &ferryv1.ListDeploymentsResponse{}
	for _, d := range s.f.deployments {
		if pool := req.Msg.GetPool(); pool == "" || d.GetSpec().GetPool() == pool {
			resp.Deployments = append(resp.Deployments, proto.CloneOf(d))
		}
	}
	slices.SortFunc(resp.Deployments, func(a, b *ferryv1.Deployment) int { return strings.Compare(a.GetName(), b.GetName()) })
	return connect.NewResponse(resp), nil
}

func (s fakeDeployments) GetDeployment(_ context.Context, req *connect.Request[ferryv1.GetDeploymentRequest]) (*connect.Response[ferryv1.GetDeploymentResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	d, ok := s.f.deployments[req.Msg.GetName()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("deployment %q not found", req.Msg.GetName()))
	}
	return connect.NewResponse(&ferryv1.GetDeploymentResponse{Deployment: proto.CloneOf(d)}), nil
}

type fakeRuns struct {
	ferryv1connect.UnimplementedRunServiceHandler
	f *fakeServer
}

func (s fakeRuns) CreateRun(_ context.Context, req *connect.Request[ferryv1.CreateRunRequest]) (*connect.Response[ferryv1.CreateRunResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.createReqs = append(s.f.createReqs, req.Msg)
	script, ok := s.f.scripts[req.Msg.GetRun().GetDeployment()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("deployment %q not found", req.Msg.GetRun().GetDeployment()))
	}
	first := script.states[0]
	s.f.runs[first.GetId()] = script
	return connect.NewResponse(&ferryv1.CreateRunResponse{Run: first, Created: true}), nil
}

func (s fakeRuns) ListRuns(_ context.Context, req *connect.Request[ferryv1.ListRunsRequest]) (*connect.Response[ferryv1.ListRunsResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.listReqs = append(s.f.listReqs, req.Msg)
	return connect.NewResponse(s.f.listResp), nil
}

func (s fakeRuns) ListRunLogs(_ context.Context, req *connect.Request[ferryv1.ListRunLogsRequest]) (*connect.Response[ferryv1.ListRunLogsResponse], error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.logReqs = append(s.f.logReqs, req.Msg)
	page, ok := s.f.logPages[req.Msg.GetPageToken()]
	if !ok {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("bad page token %q", req.Msg.GetPageToken()))
	}
	return connect.NewResponse(page), nil
}

func (s fakeRuns) WatchRun(ctx context.Context, req *connect.Request[ferryv1.WatchRunRequest], stream *connect.ServerStream[ferryv1.WatchRunResponse]) error {
	s.f.mu.Lock()
	script, ok := s.f.runs[req.Msg.GetId()]
	hold := s.f.holdWatch
	s.f.mu.Unlock()
	if !ok {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("run %s not found", req.Msg.GetId()))
	}
	for _, r := range script.states {
		if err := stream.Send(&ferryv1.WatchRunResponse{Run: r}); err != nil {
			return err
		}
	}
	if hold {
		close(s.f.watchHeld)
		<-ctx.Done()
	}
	return nil
}

func (s fakeRuns) FollowRunLogs(ctx context.Context, req *connect.Request[ferryv1.FollowRunLogsRequest], stream *connect.ServerStream[ferryv1.FollowRunLogsResponse]) error {
	s.f.mu.Lock()
	s.f.followReqs = append(s.f.followReqs, req.Msg)
	script, ok := s.f.runs[req.Msg.GetId()]
	hold := s.f.holdWatch
	s.f.mu.Unlock()
	if !ok {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("run %s not found", req.Msg.GetId()))
	}
	// Two messages, to show that lines of several messages are printed.
	half := len(script.logs) / 2
	for _, lines := range [][]*ferryv1.LogLine{script.logs[:half], script.logs[half:]} {
		if err := stream.Send(&ferryv1.FollowRunLogsResponse{Lines: lines}); err != nil {
			return err
		}
	}
	if hold {
		<-ctx.Done()
	}
	return nil
}

type fakeTokens struct {
	ferryv1connect.UnimplementedAgentTokenServiceHandler
	f *fakeServer
}

func (s fakeTokens) CreateAgentToken(_ context.Context, req *connect.Request[ferryv1.CreateAgentTokenRequest]) (*connect.Response[ferryv1.CreateAgentTokenResponse], error) {
	return connect.NewResponse(&ferryv1.CreateAgentTokenResponse{
		Token:  &ferryv1.AgentToken{Id: "tok-1", Pool: req.Msg.GetPool(), Name: req.Msg.GetName(), Prefix: "fat_ab12"},
		Secret: "fat_ab12_secretsecret",
	}), nil
}
