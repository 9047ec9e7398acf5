package api

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// ecsTestPool is the base job template of the ecs pool of these tests: a
// Fargate pool that leaves cluster, subnets and log group to its agents.
const ecsTestPool = `{"defaults":{"launch_type":"FARGATE","cpu":256,"memory":512,"tags":{"team":"data"}}}`

// runClient serves a RunService over e's store and returns a client of
// workspace e.ws.
func (e *poolTestEnv) runClient(t *testing.T) ferryv1connect.RunServiceClient {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, handler := ferryv1connect.NewRunServiceHandler(&RunServer{Store: e.store, Clock: e.clock, Log: log},
		connect.WithInterceptors(poolTestPrincipalInterceptor()))
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return ferryv1connect.NewRunServiceClient(e.http, srv.URL, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set(poolTestWorkspaceHeader, e.ws.String())
				return next(ctx, req)
			}
		})))
}

func TestApplyECSWorkPoolTemplate(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	ecsPool := ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS

	tests := []struct {
		name     string
		template string
		message  string // empty means accepted
	}{
		{"task sizes in ECS units", `{"defaults":{"launch_type":"FARGATE","cpu":1024,"memory":2048}}`, ""},
		{"everything", `{"variables":{"type":"object"},"defaults":{"cluster":"prod","launch_type":"FARGATE",
			"subnets":["subnet-0a"],"security_groups":["sg-0a"],"assign_public_ip":false,"network_mode":"awsvpc",
			"task_role_arn":"arn:aws:iam::123456789012:role/etl","execution_role_arn":"arn:aws:iam::123456789012:role/exec",
			"cpu":512,"memory":1024,"log_group":"/ferry/etl","stream_prefix":"etl","platform_version":"1.4.0",
			"container_name":"main","tags":{"team":"data"}}}`, ""},
		{"left to the agent", `{"defaults":{"cpu":256}}`, ""},
		{"unknown launch type", `{"defaults":{"launch_type":"LAMBDA"}}`,
			`base_job_template: template defaults: job variable "launch_type": unknown launch type "LAMBDA"`},
		{"launch type and strategy", `{"defaults":{"launch_type":"EC2","capacity_provider_strategy":[{"name":"spot"}]}}`,
			`job variable "capacity_provider_strategy": cannot be combined with launch_type EC2`},
		{"pair Fargate does not offer", `{"defaults":{"launch_type":"FARGATE","cpu":256,"memory":4096}}`,
			`job variable "memory": Fargate does not pair 4096 MiB with 256 CPU units`},
		{"cpu Fargate does not offer", `{"defaults":{"launch_type":"FARGATE","cpu":300}}`,
			`job variable "cpu": Fargate does not offer 300 CPU units`},
		{"no subnets for awsvpc", `{"defaults":{"network_mode":"awsvpc","subnets":[]}}`,
			`job variable "subnets": is an empty list`},
		{"Fargate bridge", `{"defaults":{"launch_type":"FARGATE","network_mode":"bridge"}}`,
			`job variable "network_mode": Fargate needs awsvpc`},
		{"bad role ARN", `{"defaults":{"execution_role_arn":"arn:aws:iam::1:role/x"}}`,
			`job variable "execution_role_arn": "arn:aws:iam::1:role/x" must be an IAM role ARN`},
		{"bad task definition ARN", `{"defaults":{"task_definition":"etl:3"}}`, `job variable "task_definition"`},
		{"reserved tag", `{"defaults":{"tags":{"ferry:run-id":"x"}}}`, `job variable "tags": key "ferry:run-id" uses a reserved prefix`},
		{"cpu of the wrong type", `{"defaults":{"cpu":"1 vCPU"}}`, `job variable "cpu": must be an integer number of ECS CPU units`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "ecs-" + string(rune('a'+i))
			_, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
				Name: name, Type: ecsPool, BaseJobTemplate: tt.template,
			}))
			if tt.message == "" {
				if err != nil {
					t.Fatalf("ApplyWorkPool: %v", err)
				}
				return
			}
			poolTestWantCode(t, err, connect.CodeInvalidArgument, tt.message)
			_, err = e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: name}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("GetWorkPool after a rejected apply: %v, want NotFound", err)
			}
		})
	}

	// A rejected update leaves the pool's template as it was.
	if _, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "fargate", Type: ecsPool, BaseJobTemplate: ecsTestPool,
	})); err != nil {
		t.Fatalf("ApplyWorkPool: %v", err)
	}
	_, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "fargate", Type: ecsPool, BaseJobTemplate: `{"defaults":{"launch_type":"FARGATE","subnets":[]}}`,
	}))
	poolTestWantCode(t, err, connect.CodeInvalidArgument, `job variable "subnets"`)
	got, err := e.pools.GetWorkPool(ctx, connect.NewRequest(&ferryv1.GetWorkPoolRequest{Name: "fargate"}))
	if err != nil || got.Msg.GetWorkPool().GetBaseJobTemplate() != ecsTestPool {
		t.Fatalf("pool after a rejected update: %v, %v; want the template unchanged", got, err)
	}

	// The ecs variables mean nothing to other pool types, which keep their
	// own rules (cpu in cores).
	if _, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "boxes", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER,
		BaseJobTemplate: `{"defaults":{"launch_type":"LAMBDA","cpu":2}}`,
	})); err != nil {
		t.Fatalf("ApplyWorkPool of a docker pool: %v", err)
	}
}

func TestECSJobVariablesOfDeploymentsAndRuns(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	runs := e.runClient(t)
	if _, err := e.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: "fargate", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS, BaseJobTemplate: ecsTestPool,
	})); err != nil {
		t.Fatalf("ApplyWorkPool: %v", err)
	}
	spec := func(vars string) *ferryv1.DeploymentSpec {
		s := poolTestSpec("fargate")
		s.Image = "ghcr.io/acme/etl:1"
		s.JobVariables = vars
		return s
	}

	// Deployments: the merged variables (pool defaults, then deployment)
	// must be consistent.
	for _, tt := range []struct {
		name, vars, message string
	}{
		{"memory the pool's cpu cannot pair", `{"memory":8192}`,
			`spec.job_variables: job variable "memory": Fargate does not pair 8192 MiB with 256 CPU units`},
		{"strategy over the pool's launch type", `{"capacity_provider_strategy":[{"name":"FARGATE_SPOT"}]}`,
			`spec.job_variables: job variable "capacity_provider_strategy": cannot be combined with launch_type FARGATE`},
		{"unknown launch type", `{"launch_type":"fargate"}`, `spec.job_variables: job variable "launch_type"`},
		{"no subnets", `{"subnets":[]}`, `spec.job_variables: job variable "subnets"`},
		{"bad task role", `{"task_role_arn":"etl"}`, `spec.job_variables: job variable "task_role_arn"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
				Name: "etl", Spec: spec(tt.vars),
			}))
			poolTestWantCode(t, err, connect.CodeInvalidArgument, tt.message)
		})
	}
	list, err := e.deployments.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{}))
	if err != nil || len(list.Msg.GetDeployments()) != 0 {
		t.Fatalf("deployments after rejected applies: %v, %v; want none", list, err)
	}

	// A strategy replaces the pool's launch type once the deployment clears
	// it; a larger Fargate size is valid in ECS units.
	e.applyDeployment(t, "spot", spec(`{"launch_type":null,"capacity_provider_strategy":[{"name":"FARGATE_SPOT","weight":1}]}`))
	e.applyDeployment(t, "etl", spec(`{"cpu":1024,"memory":4096,"subnets":["subnet-0a"]}`))

	// Runs: the run's variables are laid over both and checked the same way.
	for _, tt := range []struct {
		name, vars, message string
	}{
		{"bridge on Fargate", `{"network_mode":"bridge"}`, `run.job_variables: job variable "network_mode": Fargate needs awsvpc`},
		{"pair Fargate does not offer", `{"memory":1024}`, `run.job_variables: job variable "memory"`},
		{"reserved tag", `{"tags":{"aws:x":"y"}}`, `run.job_variables: job variable "tags"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
				Deployment: "etl", JobVariables: tt.vars,
			}}))
			poolTestWantCode(t, err, connect.CodeInvalidArgument, tt.message)
		})
	}
	var n int
	if err := e.store.Pool.QueryRow(ctx, "SELECT count(*) FROM runs").Scan(&n); err != nil || n != 0 {
		t.Fatalf("runs after rejected creates: %d, %v; want none", n, err)
	}

	if _, err := runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
		Deployment: "etl", JobVariables: `{"cpu":2048,"memory":8192,"cluster":"big"}`,
	}})); err != nil {
		t.Fatalf("CreateRun with valid ecs variables: %v", err)
	}
}
