package main

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// applyPool creates a process pool and a deployment of the same name that
// runs a no-op command, and returns a new agent token for the pool.
func applyPool(ctx context.Context, c adminClients, name string) (token string, err error) {
	if _, err := c.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: name, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS, Description: "load driver",
	})); err != nil {
		return "", fmt.Errorf("apply pool %s: %w", name, err)
	}
	if _, err := c.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: name,
		Spec: &ferryv1.DeploymentSpec{Pool: name, Command: []string{"true"}, Description: "no-op for the load driver"},
	})); err != nil {
		return "", fmt.Errorf("apply deployment %s: %w", name, err)
	}
	resp, err := c.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{
		Pool: name, Name: name + "-agents",
	}))
	if err != nil {
		return "", fmt.Errorf("create agent token for %s: %w", name, err)
	}
	return resp.Msg.GetSecret(), nil
}

// createRuns creates n runs of deployment in one CreateRuns call and
// returns their ids.
func createRuns(ctx context.Context, c adminClients, deployment string, n int) ([]string, error) {
	req := &ferryv1.CreateRunsRequest{Runs: make([]*ferryv1.RunTemplate, n)}
	for i := range req.Runs {
		req.Runs[i] = &ferryv1.RunTemplate{Deployment: deployment}
	}
	resp, err := c.runs.CreateRuns(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fmt.Errorf("create %d runs of %s: %w", n, deployment, err)
	}
	ids := make([]string, 0, n)
	for _, r := range resp.Msg.GetRuns() {
		ids = append(ids, r.GetId())
	}
	return ids, nil
}
