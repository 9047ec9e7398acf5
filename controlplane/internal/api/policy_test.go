package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/policystore"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// policyTestBuiltin is a minimal built-in policy of each kind that adds the
// workspace denials, as the real built-in policies do.
func policyTestBuiltin(kind policystore.Kind) (policystore.Builtin, error) {
	src := "package ferry." + string(kind) + "\n\n" +
		"deny contains \"viewers may not write\" if {\n\tinput.role == \"viewer\"\n\tinput.action == \"write\"\n}\n\n" +
		"deny contains msg if {\n\tsome msg in data.ferry." + string(kind) + ".workspace.deny\n}\n"
	return policystore.Builtin{
		Modules:   []policystore.Module{{Name: "builtin/" + string(kind) + ".rego", Source: src}},
		DenyQuery: "data.ferry." + string(kind) + ".deny",
	}, nil
}

// policyTestEnv serves PolicyService over real HTTP, behind the validation
// interceptor, for two workspaces.
type policyTestEnv struct {
	ws, other uuid.UUID
	client    func(ws uuid.UUID, role string) ferryv1connect.PolicyServiceClient
}

func setupPolicyEnv(t *testing.T) *policyTestEnv {
	t.Helper()
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(time.Date(2025, 3, 7, 9, 0, 0, 0, time.UTC))
	e := &policyTestEnv{}
	for _, ws := range []*uuid.UUID{&e.ws, &e.other} {
		row, err := st.Q.WorkspaceInsert(context.Background(), db.WorkspaceInsertParams{ID: uuid.New(), Name: uuid.NewString(), Now: fake.Now()})
		if err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
		*ws = row.ID
	}
	srv := &PolicyServer{
		Policies: policystore.New(st, fake, policyTestBuiltin),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewPolicyServiceHandler(srv,
		connect.WithInterceptors(policyTestPrincipal(), validate.Interceptor())))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	e.client = func(ws uuid.UUID, role string) ferryv1connect.PolicyServiceClient {
		return ferryv1connect.NewPolicyServiceClient(hs.Client(), hs.URL, connect.WithInterceptors(
			connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					req.Header().Set(poolTestWorkspaceHeader, ws.String())
					req.Header().Set(policyTestRoleHeader, role)
					return next(ctx, req)
				}
			})))
	}
	return e
}

// policyTestRoleHeader carries the role of a test request's API key.
const policyTestRoleHeader = "Ferry-Test-Role"

// policyTestPrincipal authenticates every request as an API key of the
// workspace and role named by its headers, so one server serves every role.
func policyTestPrincipal() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			ws, err := uuid.Parse(req.Header().Get(poolTestWorkspaceHeader))
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("no test workspace"))
			}
			return next(auth.WithPrincipal(ctx, auth.Principal{
				Kind:        auth.KindAPIKey,
				WorkspaceID: ws,
				Subject:     poolTestSubject,
				Role:        req.Header().Get(policyTestRoleHeader),
			}), req)
		}
	}
}

const policyTestFriday = `package ferry.authz.workspace

deny contains "no writes on Friday" if {
	input.action == "write"
	input.day == "friday"
}
`

func TestPolicyServiceLifecycle(t *testing.T) {
	t.Parallel()
	e := setupPolicyEnv(t)
	ctx := context.Background()
	c := e.client(e.ws, "admin")
	authz := ferryv1.PolicyKind_POLICY_KIND_AUTHZ
	friday := `{"role": "admin", "action": "write", "day": "friday"}`

	// A syntax error answers InvalidArgument with its position.
	_, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{
		Kind: authz, Name: "friday", Source: "package ferry.authz.workspace\n\ndeny contains msg if {\n\tmsg :=\n}\n",
	}))
	poolTestWantCode(t, err, connect.CodeInvalidArgument, "workspace/friday.rego:5:1: rego_parse_error")
	problems := policyProblems(t, err)
	if len(problems) == 0 || problems[0].GetLine() != 5 || problems[0].GetColumn() != 1 {
		t.Errorf("problems detail = %v, want the first at line 5, column 1", problems)
	}
	_, err = c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{
		Kind: authz, Name: "friday", Source: "package ferry.authz.workspace\n\nx := http.send({\"url\": \"http://127.0.0.1:1\"})\n",
	}))
	poolTestWantCode(t, err, connect.CodeInvalidArgument, "workspace/friday.rego:3:6: ferry_policy_error: http.send may not be called")

	up, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{Kind: authz, Name: "friday", Source: policyTestFriday}))
	if err != nil {
		t.Fatalf("UploadPolicy: %v", err)
	}
	if v := up.Msg.GetVersion(); v.GetVersion() != 1 || v.GetCreatedBy() != poolTestSubject || !up.Msg.GetCreated() {
		t.Fatalf("upload = %v, want version 1 created by the caller", up.Msg)
	}

	// Not active yet: the dry run allows, unless asked about version 1.
	dry := func(req *ferryv1.DryRunPolicyRequest) *ferryv1.DryRunPolicyResponse {
		t.Helper()
		resp, err := c.DryRunPolicy(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("DryRunPolicy: %v", err)
		}
		return resp.Msg
	}
	if r := dry(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: friday}); !r.GetAllowed() {
		t.Errorf("dry run before activation denied: %v", r.GetExplanation())
	}
	r := dry(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: friday, Name: "friday", Version: 1})
	wantDenials := []*ferryv1.PolicyDenial{{Message: "no writes on Friday", Workspace: true, Rule: "workspace/friday.rego:3"}}
	if diff := cmp.Diff(wantDenials, r.GetDenials(), protocmp.Transform()); diff != "" || r.GetAllowed() {
		t.Errorf("dry run of version 1: allowed %v, denials (-want +got):\n%s", r.GetAllowed(), diff)
	}
	if !strings.Contains(strings.Join(r.GetExplanation(), "\n"), "workspace workspace/friday.rego:3: no writes on Friday") {
		t.Errorf("explanation does not name the rule: %v", r.GetExplanation())
	}

	if _, err := c.ActivatePolicyVersion(ctx, connect.NewRequest(&ferryv1.ActivatePolicyVersionRequest{
		Kind: authz, Name: "friday", Version: 1,
	})); err != nil {
		t.Fatalf("ActivatePolicyVersion: %v", err)
	}
	if r := dry(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: friday, Trace: true}); r.GetAllowed() ||
		!strings.Contains(strings.Join(r.GetExplanation(), "\n"), "trace:") {
		t.Errorf("dry run after activation: allowed %v, explanation %v; want a denial with a trace", r.GetAllowed(), r.GetExplanation())
	}

	up, err = c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{
		Kind: authz, Name: "friday", Source: strings.Replace(policyTestFriday, "friday", "saturday", 1),
	}))
	if err != nil || up.Msg.GetVersion().GetVersion() != 2 {
		t.Fatalf("second upload = %v, %v; want version 2", up, err)
	}
	got, err := c.GetPolicy(ctx, connect.NewRequest(&ferryv1.GetPolicyRequest{Kind: authz, Name: "friday"}))
	if err != nil {
		t.Fatalf("GetPolicy: %v", err)
	}
	if p := got.Msg.GetPolicy(); p.GetActiveVersion() != 1 || p.GetLatestVersion() != 2 || len(got.Msg.GetVersions()) != 2 ||
		got.Msg.GetSource().GetSource() != policyTestFriday {
		t.Errorf("GetPolicy = %v; want active 1, latest 2, two versions and version 1's source", got.Msg)
	}
	list, err := c.ListPolicies(ctx, connect.NewRequest(&ferryv1.ListPoliciesRequest{}))
	if err != nil || len(list.Msg.GetPolicies()) != 1 {
		t.Fatalf("ListPolicies = %v, %v; want one policy", list, err)
	}
	if _, err := c.DeactivatePolicy(ctx, connect.NewRequest(&ferryv1.DeactivatePolicyRequest{Kind: authz, Name: "friday"})); err != nil {
		t.Fatalf("DeactivatePolicy: %v", err)
	}
	if r := dry(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: friday}); !r.GetAllowed() {
		t.Errorf("dry run after deactivation denied: %v", r.GetExplanation())
	}
}

func TestPolicyServiceRejections(t *testing.T) {
	t.Parallel()
	e := setupPolicyEnv(t)
	ctx := context.Background()
	c := e.client(e.ws, "admin")
	authz := ferryv1.PolicyKind_POLICY_KIND_AUTHZ
	if _, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{Kind: authz, Name: "friday", Source: policyTestFriday})); err != nil {
		t.Fatalf("UploadPolicy: %v", err)
	}
	other := e.client(e.other, "admin")
	viewer := e.client(e.ws, "viewer")

	tests := []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"other workspace get", func() error {
			_, err := other.GetPolicy(ctx, connect.NewRequest(&ferryv1.GetPolicyRequest{Kind: authz, Name: "friday"}))
			return err
		}, connect.CodeNotFound, `authz policy "friday" not found`},
		{"other workspace activate", func() error {
			_, err := other.ActivatePolicyVersion(ctx, connect.NewRequest(&ferryv1.ActivatePolicyVersionRequest{Kind: authz, Name: "friday", Version: 1}))
			return err
		}, connect.CodeNotFound, "not found"},
		{"other workspace dry run of the version", func() error {
			_, err := other.DryRunPolicy(ctx, connect.NewRequest(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: "{}", Name: "friday", Version: 1}))
			return err
		}, connect.CodeNotFound, "not found"},
		{"viewer upload", func() error {
			_, err := viewer.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{Kind: authz, Name: "x", Source: policyTestFriday}))
			return err
		}, connect.CodePermissionDenied, "owner or admin"},
		{"missing kind", func() error {
			_, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{Name: "x", Source: policyTestFriday}))
			return err
		}, connect.CodeInvalidArgument, "kind"},
		{"bad name", func() error {
			_, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{Kind: authz, Name: "Bad Name", Source: policyTestFriday}))
			return err
		}, connect.CodeInvalidArgument, "name"},
		{"source too large", func() error {
			_, err := c.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{
				Kind: authz, Name: "big", Source: policyTestFriday + "#" + strings.Repeat("x", 64<<10),
			}))
			return err
		}, connect.CodeInvalidArgument, "source"},
		{"input not an object", func() error {
			_, err := c.DryRunPolicy(ctx, connect.NewRequest(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: "[1]"}))
			return err
		}, connect.CodeInvalidArgument, "input_json"},
		{"candidate without a name", func() error {
			_, err := c.DryRunPolicy(ctx, connect.NewRequest(&ferryv1.DryRunPolicyRequest{Kind: authz, InputJson: "{}", Source: policyTestFriday}))
			return err
		}, connect.CodeInvalidArgument, "name: is required"},
		{"unknown version", func() error {
			_, err := c.ActivatePolicyVersion(ctx, connect.NewRequest(&ferryv1.ActivatePolicyVersionRequest{Kind: authz, Name: "friday", Version: 9}))
			return err
		}, connect.CodeNotFound, `"friday@9" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			poolTestWantCode(t, tt.call(), tt.code, tt.msg)
		})
	}

	// Nothing the rejected calls attempted was stored or activated.
	list, err := c.ListPolicies(ctx, connect.NewRequest(&ferryv1.ListPoliciesRequest{}))
	if err != nil || len(list.Msg.GetPolicies()) != 1 || list.Msg.GetPolicies()[0].GetActiveVersion() != 0 {
		t.Errorf("ListPolicies = %v, %v; want only the inactive friday policy", list, err)
	}
	if list, err := other.ListPolicies(ctx, connect.NewRequest(&ferryv1.ListPoliciesRequest{})); err != nil || len(list.Msg.GetPolicies()) != 0 {
		t.Errorf("other workspace's ListPolicies = %v, %v; want none", list, err)
	}
}

// policyProblems returns the PolicyProblems detail of err.
func policyProblems(t *testing.T, err error) []*ferryv1.PolicyProblem {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a Connect error", err)
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if p, ok := v.(*ferryv1.PolicyProblems); ok {
				return p.GetProblems()
			}
		}
	}
	t.Fatalf("no PolicyProblems detail in %v", err)
	return nil
}
