package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	"github.com/ferryhq/ferry/controlplane/internal/admission"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// TestApplyDeploymentAdmission applies specs through a DeploymentServer
// with an admission checker: a denied spec answers PermissionDenied naming
// the rules and writes nothing; an admitted one is stored.
func TestApplyDeploymentAdmission(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)

	checker, err := admission.New(ctx, admission.Options{Config: map[string]any{"required_tags": []string{"team=*"}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&DeploymentServer{
		Store: e.store, Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Admission: checker,
	}, connect.WithInterceptors(poolTestPrincipalInterceptor())))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := ferryv1connect.NewDeploymentServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set(poolTestWorkspaceHeader, e.ws.String())
				return next(ctx, req)
			}
		})))

	denied := poolTestSpec("etl")
	_, err = client.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: "load", Spec: denied}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied {
		t.Fatalf("ApplyDeployment without a team tag: %v, want PermissionDenied", err)
	}
	const want = `deployment "load" is denied by the admission policy: tags: deployment load has no tag matching team=* (required_tags)`
	if ce.Message() != want {
		t.Errorf("message = %q, want %q", ce.Message(), want)
	}
	if _, err := e.store.Q.DeploymentGetByName(ctx, db.DeploymentGetByNameParams{WorkspaceID: e.ws, Name: "load"}); err == nil {
		t.Error("a denied deployment was stored")
	}

	admitted := poolTestSpec("etl")
	admitted.Tags = append(admitted.Tags, "team=data")
	resp, err := client.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: "load", Spec: admitted}))
	if err != nil {
		t.Fatalf("ApplyDeployment with a team tag: %v", err)
	}
	if !resp.Msg.GetChanged() {
		t.Error("admitted deployment: changed = false, want true")
	}
}
