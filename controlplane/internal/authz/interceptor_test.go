package authz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/callinfo"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// Test headers the fake authentication turns into a principal; a request
// without testKindHeader has none.
const (
	testKindHeader = "Ferry-Test-Kind"
	testRoleHeader = "Ferry-Test-Role"
)

var testWorkspace = uuid.MustParse("0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10")

// runService answers GetRun, CreateRun and WatchRun and counts the calls
// that reach it.
type runService struct {
	ferryv1connect.UnimplementedRunServiceHandler
	calls atomic.Int32
}

func (s *runService) GetRun(context.Context, *connect.Request[ferryv1.GetRunRequest]) (*connect.Response[ferryv1.GetRunResponse], error) {
	s.calls.Add(1)
	return connect.NewResponse(&ferryv1.GetRunResponse{}), nil
}

func (s *runService) CreateRun(context.Context, *connect.Request[ferryv1.CreateRunRequest]) (*connect.Response[ferryv1.CreateRunResponse], error) {
	s.calls.Add(1)
	return connect.NewResponse(&ferryv1.CreateRunResponse{}), nil
}

func (s *runService) WatchRun(_ context.Context, _ *connect.Request[ferryv1.WatchRunRequest], stream *connect.ServerStream[ferryv1.WatchRunResponse]) error {
	s.calls.Add(1)
	return stream.Send(&ferryv1.WatchRunResponse{})
}

// records collects the call records of the test server, by request id.
type records struct {
	mu sync.Mutex
	m  map[string]*callinfo.Record
}

func (r *records) get(t *testing.T, id string) *callinfo.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.m[id]
	if !ok {
		t.Fatalf("no call record for request %s", id)
	}
	return rec
}

// testEnv is a RunService behind the authz interceptor on a real HTTP
// server, with a fake authentication in front of it.
type testEnv struct {
	svc     *runService
	records *records
	url     string
}

func setup(t *testing.T, opts Options) *testEnv {
	t.Helper()
	a, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{svc: &runService{}, records: &records{m: map[string]*callinfo.Record{}}}
	// record plays the outermost interceptor: it puts a call record in the
	// context, keyed by the client's request id.
	record := func(ctx context.Context, procedure string, h http.Header) context.Context {
		rec := &callinfo.Record{RequestID: h.Get("Ferry-Test-Request"), Procedure: procedure}
		e.records.mu.Lock()
		e.records.m[rec.RequestID] = rec
		e.records.mu.Unlock()
		ctx = callinfo.With(ctx, rec)
		if kind := h.Get(testKindHeader); kind != "" {
			k := auth.KindAPIKey
			if kind == "agent" {
				k = auth.KindAgent
			}
			ctx = auth.WithPrincipal(ctx, auth.Principal{
				Kind: k, WorkspaceID: testWorkspace, Subject: "apikey:ab12cd34", Role: h.Get(testRoleHeader),
			})
		}
		return ctx
	}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewRunServiceHandler(e.svc, connect.WithInterceptors(
		fakeAuth{record}, a.Interceptor(),
	)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// fakeAuth stands for the callinfo and auth interceptors.
type fakeAuth struct {
	with func(ctx context.Context, procedure string, h http.Header) context.Context
}

func (f fakeAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		return next(f.with(ctx, req.Spec().Procedure, req.Header()), req)
	}
}

func (f fakeAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (f fakeAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(f.with(ctx, conn.Spec().Procedure, conn.RequestHeader()), conn)
	}
}

// client returns a RunService client whose calls carry kind, role and a
// request id.
func (e *testEnv) client(kind, role, requestID string) ferryv1connect.RunServiceClient {
	return ferryv1connect.NewRunServiceClient(http.DefaultClient, e.url, connect.WithInterceptors(headers{
		testKindHeader: kind, testRoleHeader: role, "Ferry-Test-Request": requestID,
	}))
}

type headers map[string]string

func (h headers) set(hdr http.Header) {
	for k, v := range h {
		if v != "" {
			hdr.Set(k, v)
		}
	}
}

func (h headers) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		h.set(req.Header())
		return next(ctx, req)
	}
}

func (h headers) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		h.set(conn.RequestHeader())
		return conn
	}
}

func (h headers) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// outcome is what a test observes of one call.
type outcome struct {
	Code     connect.Code
	Message  string
	Reached  bool
	Decision callinfo.Decision
	Reason   string
	Resource string
}

func observe(t *testing.T, e *testEnv, id string, before int32, err error) outcome {
	t.Helper()
	var o outcome
	if err != nil {
		var ce *connect.Error
		if !errors.As(err, &ce) {
			t.Fatalf("call failed without a Connect error: %v", err)
		}
		o.Code, o.Message = ce.Code(), ce.Message()
	}
	o.Reached = e.svc.calls.Load() > before
	rec := e.records.get(t, id)
	o.Decision, o.Reason = rec.Decision()
	o.Resource = rec.Resource()
	return o
}

func TestInterceptorUnary(t *testing.T) {
	t.Parallel()
	runID := "0190a7d2-0000-7000-8000-000000000001"
	tests := []struct {
		name       string
		kind, role string
		call       func(ctx context.Context, c ferryv1connect.RunServiceClient) error
		want       outcome
	}{
		{
			name: "viewer reads a run",
			kind: "apikey", role: "viewer",
			call: func(ctx context.Context, c ferryv1connect.RunServiceClient) error {
				_, err := c.GetRun(ctx, connect.NewRequest(&ferryv1.GetRunRequest{Id: runID}))
				return err
			},
			want: outcome{
				Reached: true, Decision: callinfo.DecisionAllow,
				Reason: "role viewer has permission runs.read", Resource: "run/" + runID,
			},
		},
		{
			name: "viewer may not create a run",
			kind: "apikey", role: "viewer",
			call: func(ctx context.Context, c ferryv1connect.RunServiceClient) error {
				_, err := c.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "etl"}}))
				return err
			},
			want: outcome{
				Code: connect.CodePermissionDenied, Message: "role: viewer lacks permission runs.create",
				Decision: callinfo.DecisionDeny, Reason: "role: viewer lacks permission runs.create",
				Resource: "run/etl",
			},
		},
		{
			name: "operator creates a run",
			kind: "apikey", role: "operator",
			call: func(ctx context.Context, c ferryv1connect.RunServiceClient) error {
				_, err := c.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "etl"}}))
				return err
			},
			want: outcome{
				Reached: true, Decision: callinfo.DecisionAllow,
				Reason: "role operator has permission runs.create", Resource: "run/etl",
			},
		},
		{
			name: "agent may not read runs",
			kind: "agent",
			call: func(ctx context.Context, c ferryv1connect.RunServiceClient) error {
				_, err := c.GetRun(ctx, connect.NewRequest(&ferryv1.GetRunRequest{Id: runID}))
				return err
			},
			want: outcome{
				Code:     connect.CodePermissionDenied,
				Message:  "agent_only: an agent may call only AgentService, not /ferry.v1.RunService/GetRun",
				Decision: callinfo.DecisionDeny,
				Reason:   "agent_only: an agent may call only AgentService, not /ferry.v1.RunService/GetRun",
				Resource: "run/" + runID,
			},
		},
		{
			name: "no principal is unauthenticated",
			call: func(ctx context.Context, c ferryv1connect.RunServiceClient) error {
				_, err := c.GetRun(ctx, connect.NewRequest(&ferryv1.GetRunRequest{Id: runID}))
				return err
			},
			want: outcome{
				Code:     connect.CodeUnauthenticated,
				Message:  "unauthenticated: /ferry.v1.RunService/GetRun needs credentials",
				Decision: callinfo.DecisionDeny,
				Reason:   "unauthenticated: /ferry.v1.RunService/GetRun needs credentials",
				Resource: "run/" + runID,
			},
		},
	}
	e := setup(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uuid.NewString()
			// Calls are counted per test server; run these in sequence.
			before := e.svc.calls.Load()
			err := tt.call(context.Background(), e.client(tt.kind, tt.role, id))
			got := observe(t, e, id, before, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterceptorStreaming(t *testing.T) {
	t.Parallel()
	e := setup(t, Options{})
	req := &ferryv1.WatchRunRequest{Id: "0190a7d2-0000-7000-8000-000000000001"}
	tests := []struct {
		name       string
		kind, role string
		want       outcome
	}{
		{
			name: "viewer watches a run", kind: "apikey", role: "viewer",
			want: outcome{Reached: true, Decision: callinfo.DecisionAllow, Reason: "role viewer has permission runs.read"},
		},
		{
			name: "agent may not watch a run", kind: "agent",
			want: outcome{
				Code:     connect.CodePermissionDenied,
				Message:  "agent_only: an agent may call only AgentService, not /ferry.v1.RunService/WatchRun",
				Decision: callinfo.DecisionDeny,
				Reason:   "agent_only: an agent may call only AgentService, not /ferry.v1.RunService/WatchRun",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uuid.NewString()
			before := e.svc.calls.Load()
			stream, err := e.client(tt.kind, tt.role, id).WatchRun(context.Background(), connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			for stream.Receive() {
			}
			got := observe(t, e, id, before, stream.Err())
			stream.Close()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// modules is a WorkspaceModules hook serving one workspace's modules, and
// counting its calls.
type modules struct {
	mu      sync.Mutex
	mods    []Module
	version string
	err     error
	calls   int
}

func (m *modules) set(version string, err error, mods ...Module) {
	m.mu.Lock()
	m.mods, m.version, m.err = mods, version, err
	m.mu.Unlock()
}

func (m *modules) load(_ context.Context, ws uuid.UUID) ([]Module, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if ws != testWorkspace {
		return nil, "", nil
	}
	return m.mods, m.version, m.err
}

const freeze = `package ferry.authz.workspace

deny contains "the workspace is frozen" if input.procedure == "/ferry.v1.RunService/CreateRun"
`

// broken fails at evaluation: to_number refuses the subject's id, and
// strict built-in errors make that an error rather than an undefined rule.
const broken = `package ferry.authz.workspace

deny contains "never" if to_number(input.subject.id) > 0
`

func TestWorkspaceModules(t *testing.T) {
	t.Parallel()
	hook := &modules{}
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, Options{WorkspaceModules: hook.load, Clock: fake, ModulesTTL: time.Second})
	create := func(t *testing.T) outcome {
		t.Helper()
		id := uuid.NewString()
		before := e.svc.calls.Load()
		_, err := e.client("apikey", "owner", id).CreateRun(context.Background(),
			connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "etl"}}))
		return observe(t, e, id, before, err)
	}

	if got := create(t); !got.Reached {
		t.Fatalf("without workspace modules: %+v, want the call allowed", got)
	}

	// A new version is noticed once the TTL has passed.
	hook.set("v1", nil, Module{Name: "freeze", Source: freeze})
	if got := create(t); !got.Reached {
		t.Fatalf("within the TTL: %+v, want the old policy", got)
	}
	fake.Advance(time.Second)
	want := outcome{
		Code: connect.CodePermissionDenied, Message: "workspace: the workspace is frozen",
		Decision: callinfo.DecisionDeny, Reason: "workspace: the workspace is frozen", Resource: "run/etl",
	}
	if diff := cmp.Diff(want, create(t)); diff != "" {
		t.Errorf("frozen workspace (-want +got):\n%s", diff)
	}

	// The hook failing refuses the call: fail closed.
	hook.set("v1", errors.New("database down"))
	fake.Advance(time.Second)
	got := create(t)
	if got.Code != connect.CodeUnavailable || got.Reached || got.Decision != callinfo.DecisionDeny {
		t.Errorf("hook error: %+v, want Unavailable, not reached, deny recorded", got)
	}

	// A module that fails at evaluation refuses the call.
	hook.set("v2", nil, Module{Name: "broken", Source: broken})
	fake.Advance(time.Second)
	got = create(t)
	if got.Code != connect.CodeUnavailable || got.Reached || got.Decision != callinfo.DecisionDeny {
		t.Errorf("evaluation error: %+v, want Unavailable, not reached, deny recorded", got)
	}

	// A module that does not compile refuses the call.
	hook.set("v3", nil, Module{Name: "syntax", Source: "package ferry.authz.workspace\n\ndeny contains if"})
	fake.Advance(time.Second)
	got = create(t)
	if got.Code != connect.CodeUnavailable || got.Reached {
		t.Errorf("compile error: %+v, want Unavailable, not reached", got)
	}

	// Deactivating every module restores the built-in policy.
	hook.set("v4", nil)
	fake.Advance(time.Second)
	if got := create(t); !got.Reached {
		t.Errorf("after the modules were removed: %+v, want the call allowed", got)
	}
}

func TestAuthorizeFailsClosed(t *testing.T) {
	t.Parallel()
	a, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := a.Authorize(ctx, Input{Subject: matrixSubject("owner"), Procedure: "/ferry.v1.RunService/GetRun"})
	if err == nil || d.Allow {
		t.Errorf("cancelled context: decision %+v, error %v; want a denial and an error", d, err)
	}
	if d.Rule != failClosedRule {
		t.Errorf("cancelled context: rule %q, want %q", d.Rule, failClosedRule)
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	a, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// An undefined decision is an error, never an allow.
	if _, err := decisionOf(nil); err == nil {
		t.Error("decisionOf(no result) succeeded, want an error")
	}
	if d, err := a.Evaluate(context.Background(), []Module{{Name: "bad", Source: "package other"}},
		Input{Subject: matrixSubject("owner"), Procedure: "/ferry.v1.RunService/GetRun"}); err == nil || d.Allow {
		t.Errorf("Evaluate with a module of another package: %+v, %v; want a denial and an error", d, err)
	}
	d, err := a.Evaluate(context.Background(), []Module{{Name: "freeze", Source: freeze}},
		Input{Subject: matrixSubject("owner"), Procedure: "/ferry.v1.RunService/CreateRun"})
	if err != nil || d.Allow || d.Reason != "workspace: the workspace is frozen" {
		t.Errorf("Evaluate with freeze: %+v, %v; want the workspace denial", d, err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mods    []Module
		want    []Problem
		wantErr string
	}{
		{name: "good module", mods: []Module{{Name: "freeze", Source: freeze}}},
		{
			name: "syntax error at its position",
			mods: []Module{{Name: "bad", Source: "package ferry.authz.workspace\n\ndeny contains msg if {\n\tmsg := \n}\n"}},
			want: []Problem{{File: "workspace/bad.rego", Line: 5, Column: 1}},
		},
		{
			name: "wrong package",
			mods: []Module{{Name: "sneaky", Source: "package ferry.authz\n\nextra := true\n"}},
			want: []Problem{{File: "workspace/sneaky.rego", Line: 1, Column: 1,
				Message: "module declares package ferry.authz; it must declare package ferry.authz.workspace"}},
		},
		{
			name: "unsafe variable",
			mods: []Module{{Name: "unsafe", Source: "package ferry.authz.workspace\n\ndeny contains x if input.y\n"}},
			want: []Problem{{File: "workspace/unsafe.rego", Line: 3, Column: 15}},
		},
		{
			name:    "two modules of one name",
			mods:    []Module{{Name: "freeze", Source: freeze}, {Name: "freeze", Source: freeze}},
			wantErr: `workspace policy name "freeze" is empty or given twice`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.Check(context.Background(), tt.mods)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Check: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Check: %v, want a *CompileError", err)
			}
			// Compare positions; OPA's wording is its own, except for
			// Ferry's package rule.
			ignoreMessage := cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".Message"
			}, cmp.Comparer(func(a, b string) bool { return a == "" || b == "" || a == b }))
			if diff := cmp.Diff(tt.want, ce.Problems[:1], ignoreMessage); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if !strings.Contains(ce.Error(), tt.want[0].File+":") {
				t.Errorf("Error() = %q, want it to name %s", ce.Error(), tt.want[0].File)
			}
		})
	}
}
