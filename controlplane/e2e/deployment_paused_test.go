package e2e

import (
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// TestDeploymentShowsPaused pauses and resumes a deployment through
// PauseService and reads its paused flag back from GetDeployment,
// ListDeployments and ApplyDeployment; a deployment never paused is not.
func TestDeploymentShowsPaused(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	c := p.serveLimits(t)
	p.applyLimitedPool(t, 0)
	p.applyDeployment(t, "held", &ferryv1.DeploymentSpec{})
	p.applyDeployment(t, "free", &ferryv1.DeploymentSpec{})

	check := func(step string, want bool) {
		t.Helper()
		got, err := p.deployments.GetDeployment(callCtx(t), connect.NewRequest(&ferryv1.GetDeploymentRequest{Name: "held"}))
		if err != nil {
			t.Fatalf("%s: get deployment: %v", step, err)
		}
		if got.Msg.GetDeployment().GetPaused() != want {
			t.Errorf("%s: GetDeployment says paused=%v, want %v", step, got.Msg.GetDeployment().GetPaused(), want)
		}
		list, err := p.deployments.ListDeployments(callCtx(t), connect.NewRequest(&ferryv1.ListDeploymentsRequest{}))
		if err != nil {
			t.Fatalf("%s: list deployments: %v", step, err)
		}
		listed := map[string]bool{}
		for _, d := range list.Msg.GetDeployments() {
			listed[d.GetName()] = d.GetPaused()
		}
		if len(listed) != 2 || listed["held"] != want || listed["free"] {
			t.Errorf("%s: ListDeployments paused flags %v; want held=%v, free=false", step, listed, want)
		}
		// Applying the same spec again answers with the flag too.
		applied, err := p.deployments.ApplyDeployment(callCtx(t), connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
			Name: "held", Spec: got.Msg.GetDeployment().GetSpec(),
		}))
		if err != nil {
			t.Fatalf("%s: apply deployment: %v", step, err)
		}
		if applied.Msg.GetDeployment().GetPaused() != want {
			t.Errorf("%s: ApplyDeployment says paused=%v, want %v", step, applied.Msg.GetDeployment().GetPaused(), want)
		}
	}

	check("never paused", false)
	target := &ferryv1.PauseTarget{Deployment: "held"}
	if _, err := c.pause.Pause(callCtx(t), connect.NewRequest(&ferryv1.PauseRequest{Target: target})); err != nil {
		t.Fatalf("pause: %v", err)
	}
	check("paused", true)
	if _, err := c.pause.Resume(callCtx(t), connect.NewRequest(&ferryv1.ResumeRequest{Target: target})); err != nil {
		t.Fatalf("resume: %v", err)
	}
	check("resumed", false)
}
