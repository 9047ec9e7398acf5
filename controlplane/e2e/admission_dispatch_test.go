package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// admissionGateV1 is a workspace admission policy that admits the test's
// deployment; admissionGateV2 refuses it.
const (
	admissionGateV1 = `package ferry.admission.workspace

deny contains "nightly: the deployment nightly is retired" if input.deployment == "nightly"
`
	admissionGateV2 = `package ferry.admission.workspace

deny contains "gated: runs of the deployment gated are stopped" if input.deployment == "gated"
`
)

// TestAdmissionAtDispatch applies a deployment under a workspace policy
// that admits it, then activates a version that denies it: the run created
// afterwards ends FAILED (Rejected) at dispatch, its message naming the
// rule, and the agent never sees an order for it, while a run of another
// deployment is offered as usual.
func TestAdmissionAtDispatch(t *testing.T) {
	p := startPlane(t)
	policies := ferryv1connect.NewPolicyServiceClient(p.http, p.url,
		connect.WithInterceptors(bearer(p.apiKey(t, p.workspace, "admin"))))
	activate := func(source string) {
		t.Helper()
		up, err := policies.UploadPolicy(callCtx(t), connect.NewRequest(&ferryv1.UploadPolicyRequest{
			Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: "gate", Source: source,
		}))
		if err != nil {
			t.Fatalf("upload policy: %v", err)
		}
		if _, err := policies.ActivatePolicyVersion(callCtx(t), connect.NewRequest(&ferryv1.ActivatePolicyVersionRequest{
			Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: "gate", Version: up.Msg.GetVersion().GetVersion(),
		})); err != nil {
			t.Fatalf("activate policy version: %v", err)
		}
	}

	activate(admissionGateV1)
	token := p.setupDeployment(t, "gated")
	spec := &ferryv1.DeploymentSpec{Pool: "local", Command: []string{"echo", "open"}}
	if _, err := p.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: "open", Spec: spec})); err != nil {
		t.Fatalf("apply deployment open: %v", err)
	}
	activate(admissionGateV2)
	// The apply check shares the dispatcher's policy cache: once an apply
	// is refused, dispatch judges by version 2 as well.
	gated := &ferryv1.DeploymentSpec{Pool: "local", Command: []string{"echo", "hello"}}
	eventually(t, "version 2 of the policy takes effect", func() error {
		_, err := p.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{Name: "gated", Spec: gated}))
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			return errors.New("apply of gated still answers " + connect.CodeOf(err).String())
		}
		return nil
	})

	agent := p.connectAgent(t, token, "admission-agent", 4)
	refused := p.createRun(t, "gated", "")
	admitted := p.createRun(t, "open", "")

	agent.mustClaim(t, agent.orderFor(t, admitted.GetId()))
	r := p.waitState(t, refused.GetId(), ferryv1.RunState_RUN_STATE_FAILED, "Rejected")
	for _, want := range []string{"denied by the admission policy", "workspace: gated: runs of the deployment gated are stopped"} {
		if !strings.Contains(r.GetStateMessage(), want) {
			t.Errorf("state message %q does not contain %q", r.GetStateMessage(), want)
		}
	}
	if r.GetAttempt() != 1 {
		t.Errorf("attempt = %d, want 1: a rejection is never retried", r.GetAttempt())
	}
	// The rejection and the admitted run's order came from the same round
	// or an earlier one, so an order for the refused run would be queued by
	// now.
	for len(agent.orders) > 0 {
		if o := <-agent.orders; o.GetRunId() == refused.GetId() {
			t.Fatalf("the agent received an order for the refused run %s", o.GetRunId())
		}
	}
	changes := p.history(t, refused.GetId())
	last := changes[len(changes)-1]
	if last.GetToState() != ferryv1.RunState_RUN_STATE_FAILED || !strings.Contains(last.GetMessage(), "gated: runs of the deployment gated are stopped") {
		t.Errorf("last state change = %v %q, want FAILED naming the rule", last.GetToState(), last.GetMessage())
	}
}

// apiKey creates an API key of role in workspace ws and returns its secret.
func (p *plane) apiKey(t *testing.T, ws uuid.UUID, role string) string {
	t.Helper()
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatalf("new API key: %v", err)
	}
	if _, err := p.q.APIKeyInsert(context.Background(), db.APIKeyInsertParams{
		ID: uuid.New(), WorkspaceID: ws, Name: role + "-" + uuid.NewString()[:8], Prefix: sec.Prefix,
		SecretHash: sec.Hash, Role: role, Now: p.clock.Now(),
	}); err != nil {
		t.Fatalf("create API key: %v", err)
	}
	return sec.Full
}
