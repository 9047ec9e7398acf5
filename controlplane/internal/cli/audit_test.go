package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// fakeAudit serves AuditService from memory on loopback and records the
// requests.
type fakeAudit struct {
	ferryv1connect.UnimplementedAuditServiceHandler
	mu   sync.Mutex
	reqs []*ferryv1.ListAuditEventsRequest
}

func (f *fakeAudit) ListAuditEvents(
	_ context.Context, req *connect.Request[ferryv1.ListAuditEventsRequest],
) (*connect.Response[ferryv1.ListAuditEventsResponse], error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req.Msg)
	f.mu.Unlock()
	return connect.NewResponse(&ferryv1.ListAuditEventsResponse{
		Events: []*ferryv1.AuditEvent{{
			Id: 7, Time: ts(0), RequestId: "req-7", Actor: "apikey:alice", ActorKind: "api_key",
			Procedure: ferryv1connect.RunServiceCreateRunProcedure, Resource: "deployment/etl",
			Decision: ferryv1.AuditDecision_AUDIT_DECISION_DENY, Reason: "role viewer may not start runs",
			Code: "permission_denied", SourceAddr: "192.0.2.1",
		}},
		NextPageToken: "next-page",
	}), nil
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	f := &fakeAudit{}
	server := newFakeServer(t)
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAuditServiceHandler(f, connect.WithInterceptors(fakeAuth{f: server})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	server.url = srv.URL

	res := server.run(t, nil, "audit", "ls", "--actor", "apikey:alice", "--procedure", "RunService/CreateRun",
		"--decision", "deny", "--resource", "deployment/etl", "--since", "2025-01-01T00:00:00Z",
		"--until", "2025-01-02T00:00:00Z", "--limit", "10", "--page-token", "tok")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, part := range []string{"apikey:alice", "RunService/CreateRun", "deployment/etl", "deny",
		"permission_denied", "role viewer may not start runs", "192.0.2.1", "req-7"} {
		if !strings.Contains(res.stdout, part) {
			t.Errorf("table lacks %q:\n%s", part, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "--page-token next-page") {
		t.Errorf("stderr %q does not say how to continue", res.stderr)
	}
	want := &ferryv1.ListAuditEventsRequest{
		Actor: "apikey:alice", Procedure: ferryv1connect.RunServiceCreateRunProcedure,
		Decision: ferryv1.AuditDecision_AUDIT_DECISION_DENY, Resource: "deployment/etl",
		StartTime: tsAt(t, "2025-01-01T00:00:00Z"), EndTime: tsAt(t, "2025-01-02T00:00:00Z"),
		PageSize: 10, PageToken: "tok",
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(f.reqs))
	}
	if diff := cmp.Diff(want, f.reqs[0], protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestAuditListJSON(t *testing.T) {
	t.Parallel()
	f := &fakeAudit{}
	server := newFakeServer(t)
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAuditServiceHandler(f, connect.WithInterceptors(fakeAuth{f: server})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	server.url = srv.URL

	res := server.run(t, nil, "audit", "ls", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, part := range []string{`"requestId":"req-7"`, `"decision":"AUDIT_DECISION_DENY"`, `"procedure":"/ferry.v1.RunService/CreateRun"`} {
		if !strings.Contains(strings.ReplaceAll(res.stdout, " ", ""), part) {
			t.Errorf("JSON lacks %s:\n%s", part, res.stdout)
		}
	}
}

func TestAuditListUsage(t *testing.T) {
	t.Parallel()
	server := newFakeServer(t)
	for _, args := range [][]string{
		{"--decision", "maybe"},
		{"--since", "yesterday"},
		{"--until", "-1h"},
		{"--limit", "5000"},
		{"--output", "yaml"},
	} {
		res := server.run(t, nil, append([]string{"audit", "ls"}, args...)...)
		if res.code != exitUsage {
			t.Errorf("audit ls %q: exit %d, want %d (%s)", args, res.code, exitUsage, res.stderr)
		}
	}
}

// tsAt parses an RFC 3339 time into a timestamp.
func tsAt(t *testing.T, s string) *timestamppb.Timestamp {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return timestamppb.New(v)
}
