package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/server"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// tenancyClass says what a procedure called by workspace A's admin about
// workspace B's objects must answer.
type tenancyClass int

const (
	// foreign: the request names one of B's objects (by id, or by a name
	// that exists only in B); the call must answer NotFound.
	foreign tenancyClass = iota + 1
	// own: the request names no existing object, or only things that are
	// the caller's by construction (its own workspace, its own identity);
	// it acts in A, and neither its answer nor its error may show anything
	// of B. These calls run after the foreign ones, since some create
	// objects in A under B's names.
	own
	// installation: the procedure manages what belongs to the whole
	// installation, not to a workspace; there is nothing of B to aim at.
	installation
	// agentProtocol: only agent tokens may call it; the cross-pool cases
	// are TestTenancyAgentToken.
	agentProtocol
	// public: answered without credentials, so there is no caller
	// workspace to cross.
	public
)

// foreignObjects are workspace B's objects, created through B's API.
type foreignObjects struct {
	pool, queue, deployment, schedule, limit, policy string
	serviceAccount, userEmail                        string
	runID, tokenID, apiKeyID                         string
	// markers are strings only B's objects contain (ids, a description);
	// no answer given to A may contain one.
	markers []string
	// agent is an agent of B's pool, whose operator drain request B
	// asked for; A's undrain must not lift it.
	agent string
}

// tenancyClients are clients of every service with one credential.
type tenancyClients struct {
	agentTokens ferryv1connect.AgentTokenServiceClient
	audit       ferryv1connect.AuditServiceClient
	deployments ferryv1connect.DeploymentServiceClient
	auth        ferryv1connect.AuthServiceClient
	users       ferryv1connect.UserServiceClient
	apiKeys     ferryv1connect.APIKeyServiceClient
	limits      ferryv1connect.ConcurrencyLimitServiceClient
	pause       ferryv1connect.PauseServiceClient
	policies    ferryv1connect.PolicyServiceClient
	runs        ferryv1connect.RunServiceClient
	schedules   ferryv1connect.ScheduleServiceClient
	signing     ferryv1connect.SigningKeyServiceClient
	pools       ferryv1connect.WorkPoolServiceClient
	workspaces  ferryv1connect.WorkspaceServiceClient
}

func (p *plane) tenancyClients(key string) tenancyClients {
	opt := connect.WithInterceptors(bearer(key))
	return tenancyClients{
		agentTokens: ferryv1connect.NewAgentTokenServiceClient(p.http, p.url, opt),
		audit:       ferryv1connect.NewAuditServiceClient(p.http, p.url, opt),
		deployments: ferryv1connect.NewDeploymentServiceClient(p.http, p.url, opt),
		auth:        ferryv1connect.NewAuthServiceClient(p.http, p.url, opt),
		users:       ferryv1connect.NewUserServiceClient(p.http, p.url, opt),
		apiKeys:     ferryv1connect.NewAPIKeyServiceClient(p.http, p.url, opt),
		limits:      ferryv1connect.NewConcurrencyLimitServiceClient(p.http, p.url, opt),
		pause:       ferryv1connect.NewPauseServiceClient(p.http, p.url, opt),
		policies:    ferryv1connect.NewPolicyServiceClient(p.http, p.url, opt),
		runs:        ferryv1connect.NewRunServiceClient(p.http, p.url, opt),
		schedules:   ferryv1connect.NewScheduleServiceClient(p.http, p.url, opt),
		signing:     ferryv1connect.NewSigningKeyServiceClient(p.http, p.url, opt),
		pools:       ferryv1connect.NewWorkPoolServiceClient(p.http, p.url, opt),
		workspaces:  ferryv1connect.NewWorkspaceServiceClient(p.http, p.url, opt),
	}
}

// tenancyCall makes one call as A about B's objects and returns the answer.
type tenancyCall func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error)

// tenancyCase classifies one procedure; call is nil for the classes that
// are not called here (installation-wide changes, the agent protocol,
// public procedures), and why says why.
type tenancyCase struct {
	class tenancyClass
	call  tenancyCall
	why   string
}

// unary adapts a unary client method to a tenancyCall.
func unary[Req, Res any](
	ctx context.Context,
	f func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
) (proto.Message, error) {
	resp, err := f(ctx, connect.NewRequest(msg))
	if err != nil {
		return nil, err
	}
	return any(resp.Msg).(proto.Message), nil
}

// firstOf opens a server stream and returns its first message or its error.
func firstOf[Res any](stream *connect.ServerStreamForClient[Res], err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	if stream.Receive() {
		return any(stream.Msg()).(proto.Message), nil
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("the stream ended without a message or an error")
}

// tenancyTable classifies every procedure of the API. A procedure of the
// generated descriptors missing here fails TestTenancyEveryProcedure, so a
// new RPC must be classified before it ships.
var tenancyTable = map[string]tenancyCase{
	// AgentService
	ferryv1connect.AgentServiceSubscribeProcedure:     {class: agentProtocol, why: "a stream of the caller's own pool"},
	ferryv1connect.AgentServiceClaimRunsProcedure:     {class: agentProtocol, why: "TestTenancyAgentToken"},
	ferryv1connect.AgentServiceReportStatesProcedure:  {class: agentProtocol, why: "TestTenancyAgentToken"},
	ferryv1connect.AgentServiceHeartbeatProcedure:     {class: agentProtocol, why: "TestTenancyAgentToken"},
	ferryv1connect.AgentServiceSendLogsProcedure:      {class: agentProtocol, why: "TestTenancyAgentToken"},
	ferryv1connect.AgentServiceGetLogCursorsProcedure: {class: agentProtocol, why: "TestTenancyAgentToken"},
	// AgentTokenService
	ferryv1connect.AgentTokenServiceCreateAgentTokenProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.agentTokens.CreateAgentToken, &ferryv1.CreateAgentTokenRequest{Pool: b.pool, Name: "intruder"})
	}},
	ferryv1connect.AgentTokenServiceListAgentTokensProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.agentTokens.ListAgentTokens, &ferryv1.ListAgentTokensRequest{Pool: b.pool})
	}},
	ferryv1connect.AgentTokenServiceRevokeAgentTokenProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.agentTokens.RevokeAgentToken, &ferryv1.RevokeAgentTokenRequest{Id: b.tokenID})
	}},
	// AuditService
	ferryv1connect.AuditServiceListAuditEventsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.audit.ListAuditEvents, &ferryv1.ListAuditEventsRequest{Resource: b.runID})
	}},
	// AuthService
	ferryv1connect.AuthServiceLoginProcedure: {class: public, why: "needs no credentials; a login names its workspace"},
	ferryv1connect.AuthServiceLogoutProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.auth.Logout, &ferryv1.LogoutRequest{})
	}},
	ferryv1connect.AuthServiceWhoAmIProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.auth.WhoAmI, &ferryv1.WhoAmIRequest{})
	}},
	// UserService. People are installation-wide and join workspaces by
	// membership: creating a user with B's member's email is refused as a
	// duplicate, and adding that person to A changes A alone.
	ferryv1connect.UserServiceCreateUserProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.users.CreateUser, &ferryv1.CreateUserRequest{Email: b.userEmail, Password: "correct horse battery staple", Role: "viewer"})
	}},
	ferryv1connect.UserServiceListUsersProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.users.ListUsers, &ferryv1.ListUsersRequest{})
	}},
	ferryv1connect.UserServiceAddMembershipProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.users.AddMembership, &ferryv1.AddMembershipRequest{Email: b.userEmail, Role: "viewer"})
	}},
	ferryv1connect.UserServiceRemoveMembershipProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.users.RemoveMembership, &ferryv1.RemoveMembershipRequest{Email: b.userEmail})
	}},
	ferryv1connect.UserServiceCreateServiceAccountProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.users.CreateServiceAccount, &ferryv1.CreateServiceAccountRequest{Name: b.serviceAccount, Role: "viewer"})
	}},
	// APIKeyService
	ferryv1connect.APIKeyServiceCreateAPIKeyProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.apiKeys.CreateAPIKey, &ferryv1.CreateAPIKeyRequest{Name: "intruder", Role: "viewer", ServiceAccount: b.serviceAccount})
	}},
	ferryv1connect.APIKeyServiceListAPIKeysProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.apiKeys.ListAPIKeys, &ferryv1.ListAPIKeysRequest{})
	}},
	ferryv1connect.APIKeyServiceRevokeAPIKeyProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.apiKeys.RevokeAPIKey, &ferryv1.RevokeAPIKeyRequest{Id: b.apiKeyID})
	}},
	// ConcurrencyLimitService
	ferryv1connect.ConcurrencyLimitServiceApplyConcurrencyLimitProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.limits.ApplyConcurrencyLimit, &ferryv1.ApplyConcurrencyLimitRequest{Name: b.limit, Slots: 1})
	}},
	ferryv1connect.ConcurrencyLimitServiceListConcurrencyLimitsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.limits.ListConcurrencyLimits, &ferryv1.ListConcurrencyLimitsRequest{})
	}},
	ferryv1connect.ConcurrencyLimitServiceDeleteConcurrencyLimitProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.limits.DeleteConcurrencyLimit, &ferryv1.DeleteConcurrencyLimitRequest{Name: b.limit})
	}},
	// DeploymentService
	ferryv1connect.DeploymentServiceApplyDeploymentProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.deployments.ApplyDeployment, &ferryv1.ApplyDeploymentRequest{
			Name: b.deployment, Spec: &ferryv1.DeploymentSpec{Pool: b.pool, Command: []string{"true"}},
		})
	}},
	ferryv1connect.DeploymentServiceGetDeploymentProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.deployments.GetDeployment, &ferryv1.GetDeploymentRequest{Name: b.deployment})
	}},
	ferryv1connect.DeploymentServiceListDeploymentsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.deployments.ListDeployments, &ferryv1.ListDeploymentsRequest{Pool: b.pool})
	}},
	ferryv1connect.DeploymentServiceDeleteDeploymentProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.deployments.DeleteDeployment, &ferryv1.DeleteDeploymentRequest{Name: b.deployment})
	}},
	ferryv1connect.DeploymentServiceListDeploymentVersionsProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.deployments.ListDeploymentVersions, &ferryv1.ListDeploymentVersionsRequest{Name: b.deployment})
	}},
	// PauseService
	ferryv1connect.PauseServicePauseProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pause.Pause, &ferryv1.PauseRequest{Target: &ferryv1.PauseTarget{Deployment: b.deployment}})
	}},
	ferryv1connect.PauseServiceResumeProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pause.Resume, &ferryv1.ResumeRequest{Target: &ferryv1.PauseTarget{Pool: b.pool, Queue: b.queue}})
	}},
	// PolicyService
	ferryv1connect.PolicyServiceUploadPolicyProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.UploadPolicy, &ferryv1.UploadPolicyRequest{
			Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy, Source: tenancyPolicyA,
		})
	}},
	ferryv1connect.PolicyServiceListPoliciesProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.ListPolicies, &ferryv1.ListPoliciesRequest{Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION})
	}},
	ferryv1connect.PolicyServiceGetPolicyProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.GetPolicy, &ferryv1.GetPolicyRequest{Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy})
	}},
	ferryv1connect.PolicyServiceActivatePolicyVersionProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.ActivatePolicyVersion, &ferryv1.ActivatePolicyVersionRequest{
			Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy, Version: 1,
		})
	}},
	ferryv1connect.PolicyServiceDeactivatePolicyProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.DeactivatePolicy, &ferryv1.DeactivatePolicyRequest{Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy})
	}},
	ferryv1connect.PolicyServiceDryRunPolicyProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.policies.DryRunPolicy, &ferryv1.DryRunPolicyRequest{
			Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, InputJson: `{"deployment": "x", "spec": {}}`, Name: b.policy, Version: 1,
		})
	}},
	// RunService
	ferryv1connect.RunServiceCreateRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.CreateRun, &ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: b.deployment}})
	}},
	ferryv1connect.RunServiceCreateRunsProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.CreateRuns, &ferryv1.CreateRunsRequest{Runs: []*ferryv1.RunTemplate{{Deployment: b.deployment}}})
	}},
	ferryv1connect.RunServiceGetRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.GetRun, &ferryv1.GetRunRequest{Id: b.runID})
	}},
	ferryv1connect.RunServiceListRunsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.ListRuns, &ferryv1.ListRunsRequest{Deployment: b.deployment})
	}},
	ferryv1connect.RunServiceCancelRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.CancelRun, &ferryv1.CancelRunRequest{Id: b.runID, Reason: "intruder"})
	}},
	ferryv1connect.RunServiceRetryRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.RetryRun, &ferryv1.RetryRunRequest{Id: b.runID})
	}},
	ferryv1connect.RunServiceWatchRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return firstOf(c.runs.WatchRun(ctx, connect.NewRequest(&ferryv1.WatchRunRequest{Id: b.runID})))
	}},
	ferryv1connect.RunServiceListRunStateChangesProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.ListRunStateChanges, &ferryv1.ListRunStateChangesRequest{Id: b.runID})
	}},
	ferryv1connect.RunServiceListRunLogsProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.ListRunLogs, &ferryv1.ListRunLogsRequest{Id: b.runID})
	}},
	ferryv1connect.RunServiceFollowRunLogsProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return firstOf(c.runs.FollowRunLogs(ctx, connect.NewRequest(&ferryv1.FollowRunLogsRequest{Id: b.runID})))
	}},
	ferryv1connect.RunServiceExplainRunProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.ExplainRun, &ferryv1.ExplainRunRequest{Id: b.runID})
	}},
	ferryv1connect.RunServiceGetRunStatsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.runs.GetRunStats, &ferryv1.GetRunStatsRequest{})
	}},
	// ScheduleService
	ferryv1connect.ScheduleServiceApplyScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.ApplySchedule, &ferryv1.ApplyScheduleRequest{Deployment: b.deployment, Name: b.schedule, Spec: tenancySchedule()})
	}},
	// The deployment is a filter: in A it matches nothing.
	ferryv1connect.ScheduleServiceListSchedulesProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.ListSchedules, &ferryv1.ListSchedulesRequest{Deployment: b.deployment})
	}},
	ferryv1connect.ScheduleServiceDeleteScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.DeleteSchedule, &ferryv1.DeleteScheduleRequest{Deployment: b.deployment, Name: b.schedule})
	}},
	ferryv1connect.ScheduleServicePauseScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.PauseSchedule, &ferryv1.PauseScheduleRequest{Deployment: b.deployment, Name: b.schedule})
	}},
	ferryv1connect.ScheduleServiceResumeScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.ResumeSchedule, &ferryv1.ResumeScheduleRequest{Deployment: b.deployment, Name: b.schedule})
	}},
	ferryv1connect.ScheduleServicePreviewScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.schedules.PreviewSchedule, &ferryv1.PreviewScheduleRequest{Deployment: b.deployment, Name: b.schedule, Count: 3})
	}},
	ferryv1connect.ScheduleServiceBackfillScheduleProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		return unary(ctx, c.schedules.BackfillSchedule, &ferryv1.BackfillScheduleRequest{
			Deployment: b.deployment, Name: b.schedule, Start: timestamppb.New(start), End: timestamppb.New(start.AddDate(1, 0, 0)), MaxRuns: 2,
		})
	}},
	// SigningKeyService: the keys sign every workspace's orders, and only
	// admins of the installation's first workspace, which A is here, may
	// rotate and retire them, so these calls are not made here.
	ferryv1connect.SigningKeyServiceRotateSigningKeyProcedure: {class: installation, why: "signing keys belong to the installation"},
	ferryv1connect.SigningKeyServiceRetireSigningKeyProcedure: {class: installation, why: "signing keys belong to the installation"},
	ferryv1connect.SigningKeyServiceListSigningKeysProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.signing.ListSigningKeys, &ferryv1.ListSigningKeysRequest{IncludeRetired: true})
	}},
	// WorkPoolService
	ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.ApplyWorkPool, &ferryv1.ApplyWorkPoolRequest{Name: b.pool, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS})
	}},
	ferryv1connect.WorkPoolServiceGetWorkPoolProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.GetWorkPool, &ferryv1.GetWorkPoolRequest{Name: b.pool})
	}},
	ferryv1connect.WorkPoolServiceListWorkPoolsProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.ListWorkPools, &ferryv1.ListWorkPoolsRequest{})
	}},
	ferryv1connect.WorkPoolServiceDeleteWorkPoolProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.DeleteWorkPool, &ferryv1.DeleteWorkPoolRequest{Name: b.pool})
	}},
	ferryv1connect.WorkPoolServiceApplyWorkQueueProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.ApplyWorkQueue, &ferryv1.ApplyWorkQueueRequest{Pool: b.pool, Name: b.queue, Priority: 9})
	}},
	ferryv1connect.WorkPoolServiceListWorkQueuesProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.ListWorkQueues, &ferryv1.ListWorkQueuesRequest{Pool: b.pool})
	}},
	ferryv1connect.WorkPoolServiceListAgentsProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.ListAgents, &ferryv1.ListAgentsRequest{Pool: b.pool})
	}},
	ferryv1connect.WorkPoolServiceDrainAgentProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.DrainAgent, &ferryv1.DrainAgentRequest{Pool: b.pool, Name: b.agent})
	}},
	ferryv1connect.WorkPoolServiceUndrainAgentProcedure: {class: foreign, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.pools.UndrainAgent, &ferryv1.UndrainAgentRequest{Pool: b.pool, Name: b.agent})
	}},
	// WorkspaceService: A's admin is an installation admin here, so a
	// creation would succeed; TestTenancyWorkspaces covers who may create
	// workspaces and who sees which.
	ferryv1connect.WorkspaceServiceCreateWorkspaceProcedure: {class: installation, why: "creates a new tenant; TestTenancyWorkspaces"},
	ferryv1connect.WorkspaceServiceListWorkspacesProcedure: {class: own, call: func(ctx context.Context, c tenancyClients, b foreignObjects) (proto.Message, error) {
		return unary(ctx, c.workspaces.ListWorkspaces, &ferryv1.ListWorkspacesRequest{})
	}},
}

// tenancyPolicyA is the admission policy A uploads under B's policy name.
const tenancyPolicyA = `package ferry.admission.workspace

deny contains "a: never" if input.deployment == "never-in-a"
`

// tenancySchedule is a schedule that never fires during a test.
func tenancySchedule() *ferryv1.ScheduleSpec {
	active := false
	return &ferryv1.ScheduleSpec{Kind: ferryv1.ScheduleKind_SCHEDULE_KIND_CRON, Expression: "@yearly", Zone: "UTC", Active: &active}
}

// withPepper serves the identity services (users, API keys, login).
func withPepper(t *testing.T) func(*server.Config) {
	return func(cfg *server.Config) {
		pepper, err := auth.NewPepper([]byte(strings.Repeat("p", 32)), "test")
		if err != nil {
			t.Fatalf("pepper: %v", err)
		}
		cfg.AuthPepper = pepper
	}
}

// TestTenancyEveryProcedure calls every procedure of the API with
// workspace A's admin key about workspace B's objects: each must answer
// NotFound, or, when it names nothing of B's, act in A alone and show
// nothing of B; afterwards no row of B has changed.
func TestTenancyEveryProcedure(t *testing.T) {
	p := startPlane(t, withPepper(t))
	wsB, b := p.foreignTenant(t)
	a := p.tenancyClients(p.apiKey(t, p.workspace, "admin"))
	before := p.stableFingerprint(t, wsB)

	var procedures []string
	protoregistry.GlobalFiles.RangeFilesByPackage("ferry.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				procedures = append(procedures, fmt.Sprintf("/%s/%s", s.FullName(), s.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(procedures) == 0 {
		t.Fatal("no procedure in the ferry.v1 descriptors")
	}
	for _, proc := range procedures {
		if _, ok := tenancyTable[proc]; !ok {
			t.Errorf("%s is not in tenancyTable: classify it, with a call about B's objects", proc)
		}
	}
	for proc := range tenancyTable {
		if !slices.Contains(procedures, proc) {
			t.Errorf("tenancyTable lists %s, which the descriptors do not have", proc)
		}
	}

	// The foreign calls first: some own calls create objects in A under
	// B's names, after which those names exist in A too.
	slices.SortStableFunc(procedures, func(x, y string) int { return int(tenancyTable[x].class) - int(tenancyTable[y].class) })
	for _, proc := range procedures {
		tc, ok := tenancyTable[proc]
		if !ok {
			continue
		}
		if tc.call == nil {
			if tc.why == "" {
				t.Errorf("%s: a procedure that is not called needs a reason", proc)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		resp, err := tc.call(ctx, a, b)
		cancel()
		switch tc.class {
		case foreign:
			if code := connect.CodeOf(err); err == nil || code != connect.CodeNotFound {
				t.Errorf("%s about B's object: %v (code %v), want NotFound", proc, err, connect.CodeOf(err))
			}
		case own:
			text := ""
			if err != nil {
				text = err.Error()
			} else if resp != nil {
				text = protojson.Format(resp)
			}
			for _, m := range b.markers {
				if strings.Contains(text, m) {
					t.Errorf("%s: the answer to A shows %q of workspace B: %s", proc, m, text)
				}
			}
		default:
			t.Errorf("%s: class %d is not called", proc, tc.class)
		}
		if err != nil {
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() == connect.CodeUnimplemented || ce.Code() == connect.CodeInternal {
				t.Errorf("%s: %v", proc, err)
			}
		}
	}

	if diff := cmp.Diff(before, p.fingerprint(t, wsB)); diff != "" {
		t.Errorf("workspace B changed under A's calls (-before +after):\n%s", diff)
	}
}

// TestTenancyAgentToken has an agent of pool A use the exact lease of a
// run of pool B, claimed by B's agent: every agent call is refused or
// ignored, and nothing of B changes.
func TestTenancyAgentToken(t *testing.T) {
	p := startPlane(t)
	tokenA := p.setupDeployment(t, "tenancy-a")
	agentA := p.connectAgent(t, tokenA, "agent-a", 4)

	bClients := p.foreignWorkspace(t)
	ctx := callCtx(t)
	if _, err := bClients.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{Name: "pool-b", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS})); err != nil {
		t.Fatalf("apply B's pool: %v", err)
	}
	if _, err := bClients.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: "dep-b", Spec: &ferryv1.DeploymentSpec{Pool: "pool-b", Command: []string{"true"}},
	})); err != nil {
		t.Fatalf("apply B's deployment: %v", err)
	}
	tokB, err := bClients.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "pool-b", Name: "agents-b"}))
	if err != nil {
		t.Fatalf("create B's token: %v", err)
	}
	agentB := p.connectAgent(t, tokB.Msg.GetSecret(), "agent-b", 4)
	runB, err := bClients.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: "dep-b"}}))
	if err != nil {
		t.Fatalf("create B's run: %v", err)
	}
	order := agentB.orderFor(t, runB.Msg.GetRun().GetId())
	agentB.mustClaim(t, order)
	l := lease(order)
	agentB.sendLogs(t, l, 1, "a line of B", "another line of B")
	wsB := p.workspaceOfRun(t, l.GetRunId())
	before := p.stableFingerprint(t, wsB)

	if r := agentA.claim(t, order)[0]; r.GetAccepted() {
		t.Errorf("agent of pool A claimed B's run: %v", r)
	}
	if r := agentA.report(t, l, ferryv1.ReportKind_REPORT_KIND_COMPLETED, exit(0)); r.GetAccepted() {
		t.Errorf("agent of pool A reported on B's run: %v", r)
	}
	// A heartbeat naming B's lease must not renew it; the fingerprint
	// checks that.
	agentA.heartbeat(t, l)
	agentA.sendLogs(t, l, 1, "written into B's run")
	cursors, err := agentA.client.GetLogCursors(callCtx(t), connect.NewRequest(&ferryv1.GetLogCursorsRequest{
		SessionId: agentA.session(), Leases: []*ferryv1.RunLease{l},
	}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("log cursors of B's run: %v", err)
	}
	if err == nil {
		for _, c := range cursors.Msg.GetCursors() {
			if c.GetRunId() == l.GetRunId() && (c.GetLastSeq() > 0 || c.GetOutputLines() > 0) {
				t.Errorf("agent of pool A reads B's log cursor: %v", c)
			}
		}
	}

	if diff := cmp.Diff(before, p.fingerprint(t, wsB)); diff != "" {
		t.Errorf("workspace B changed under pool A's agent (-before +after):\n%s", diff)
	}
}

// TestTenancyWorkspaces checks who may create workspaces and who sees
// which, through the real policy and handlers: only admins and owners of
// the installation's first workspace (A) create them; B's admin is refused;
// a member of B lists B and the workspaces made for them, never A.
func TestTenancyWorkspaces(t *testing.T) {
	p := startPlane(t, withPepper(t))
	wsB, b := p.foreignTenant(t)
	ctx := callCtx(t)

	// B's own refused calls are audited in B; what A does afterwards must
	// change nothing there.
	refused := []struct {
		name, key, wantMsg string
	}{
		{name: "admin of B", key: p.apiKey(t, wsB, "admin"), wantMsg: "installation's first workspace"},
		{name: "owner of B", key: p.apiKey(t, wsB, "owner"), wantMsg: "installation's first workspace"},
		{name: "developer of A", key: p.apiKey(t, p.workspace, "developer"), wantMsg: "lacks permission workspaces.create"},
	}
	for _, tt := range refused {
		_, err := p.tenancyClients(tt.key).workspaces.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{
			Name: "made-by-" + strings.ToLower(strings.ReplaceAll(tt.name, " ", "-")), OwnerEmail: b.userEmail,
		}))
		if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s creating a workspace: %v, want PermissionDenied with %q", tt.name, err, tt.wantMsg)
		}
	}
	var n int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM workspaces WHERE name LIKE 'made-by-%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("refused creations left %d workspaces (%v)", n, err)
	}
	before := p.stableFingerprint(t, wsB)

	// A's admin creates a workspace for B's member.
	a := p.tenancyClients(p.apiKey(t, p.workspace, "admin"))
	created, err := a.workspaces.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{
		Name: "tenant-c", DisplayName: "Tenant C", OwnerEmail: b.userEmail,
	}))
	if err != nil {
		t.Fatalf("A's admin creates a workspace: %v", err)
	}
	if got := created.Msg.GetOwner().GetEmail(); got != b.userEmail {
		t.Errorf("owner = %q, want %s", got, b.userEmail)
	}
	eventually(t, "the creation is in A's audit trail", func() error {
		var n int
		err := p.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE workspace_id = $1 AND procedure = $2
			AND resource = 'workspace/tenant-c' AND decision = 'allow' AND code = 'ok'`,
			p.workspace, ferryv1connect.WorkspaceServiceCreateWorkspaceProcedure).Scan(&n)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d audit events of the creation, want 1", n)
		}
		return err
	})
	if _, err := a.workspaces.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{
		Name: "tenant-b", OwnerEmail: b.userEmail,
	})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("creating B's name again: %v, want AlreadyExists", err)
	}

	// Nothing of B changed; the logins below add B's member's session.
	if diff := cmp.Diff(before, p.fingerprint(t, wsB)); diff != "" {
		t.Errorf("workspace B changed (-before +after):\n%s", diff)
	}

	// B's member lists B and C, not A, from either workspace.
	login := ferryv1connect.NewAuthServiceClient(p.http, p.url)
	for _, ws := range []string{"tenant-b", "tenant-c"} {
		resp, err := login.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{
			Email: b.userEmail, Password: "correct horse battery staple", Workspace: ws,
		}))
		if err != nil {
			t.Fatalf("log in to %s: %v", ws, err)
		}
		var token string
		for _, line := range resp.Header().Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == auth.SessionCookie {
				token = c.Value
			}
		}
		list, err := p.tenancyClients(token).workspaces.ListWorkspaces(ctx, connect.NewRequest(&ferryv1.ListWorkspacesRequest{}))
		if err != nil {
			t.Fatalf("list workspaces from %s: %v", ws, err)
		}
		var got []string
		for _, m := range list.Msg.GetWorkspaces() {
			got = append(got, m.GetWorkspace().GetName()+"/"+m.GetRole())
		}
		if diff := cmp.Diff([]string{"tenant-b/viewer", "tenant-c/owner"}, got); diff != "" {
			t.Errorf("B's member's workspaces, logged in to %s (-want +got):\n%s", ws, diff)
		}
	}
}

// foreignTenant creates workspace B with one object of every kind,
// through B's own admin key, and returns it.
func (p *plane) foreignTenant(t *testing.T) (uuid.UUID, foreignObjects) {
	t.Helper()
	ctx := context.Background()
	ws, err := p.q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "tenant-b", Now: p.clock.Now()})
	if err != nil {
		t.Fatalf("create workspace B: %v", err)
	}
	c := p.tenancyClients(p.apiKey(t, ws.ID, "admin"))
	const marker = "only-in-workspace-b"
	b := foreignObjects{
		pool: "pool-b", queue: "queue-b", deployment: "dep-b", schedule: "sched-b", limit: "lim-b", policy: "pol-b",
		serviceAccount: "sa-b", userEmail: "member-b@tenancy.test", agent: "agent-b", markers: []string{marker},
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("B: %s: %v", what, err)
		}
	}
	_, err = c.pools.ApplyWorkPool(ctx, connect.NewRequest(&ferryv1.ApplyWorkPoolRequest{
		Name: b.pool, Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS, Description: marker,
	}))
	must("apply pool", err)
	_, err = c.pools.ApplyWorkQueue(ctx, connect.NewRequest(&ferryv1.ApplyWorkQueueRequest{Pool: b.pool, Name: b.queue, Priority: 1}))
	must("apply queue", err)
	dep, err := c.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
		Name: b.deployment, Spec: &ferryv1.DeploymentSpec{Pool: b.pool, Queue: b.queue, Command: []string{"true"}, Description: marker},
	}))
	must("apply deployment", err)
	run, err := c.runs.CreateRun(ctx, connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{Deployment: b.deployment}}))
	must("create run", err)
	tok, err := c.agentTokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: b.pool, Name: "agents-b"}))
	must("create agent token", err)
	sched, err := c.schedules.ApplySchedule(ctx, connect.NewRequest(&ferryv1.ApplyScheduleRequest{
		Deployment: b.deployment, Name: b.schedule, Spec: tenancySchedule(),
	}))
	must("apply schedule", err)
	_, err = c.limits.ApplyConcurrencyLimit(ctx, connect.NewRequest(&ferryv1.ApplyConcurrencyLimitRequest{Name: b.limit, Slots: 5, Description: marker}))
	must("apply limit", err)
	_, err = c.policies.UploadPolicy(ctx, connect.NewRequest(&ferryv1.UploadPolicyRequest{
		Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy,
		Source: "package ferry.admission.workspace\n\ndeny contains \"" + marker + "\" if input.deployment == \"never-in-b\"\n",
	}))
	must("upload policy", err)
	_, err = c.policies.ActivatePolicyVersion(ctx, connect.NewRequest(&ferryv1.ActivatePolicyVersionRequest{
		Kind: ferryv1.PolicyKind_POLICY_KIND_ADMISSION, Name: b.policy, Version: 1,
	}))
	must("activate policy", err)
	_, err = c.users.CreateUser(ctx, connect.NewRequest(&ferryv1.CreateUserRequest{
		Email: b.userEmail, DisplayName: "Member of B", Password: "correct horse battery staple", Role: "viewer",
	}))
	must("create user", err)
	_, err = c.users.CreateServiceAccount(ctx, connect.NewRequest(&ferryv1.CreateServiceAccountRequest{Name: b.serviceAccount, Role: "viewer"}))
	must("create service account", err)
	key, err := c.apiKeys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{
		Name: "key-b", Role: "viewer", ServiceAccount: b.serviceAccount, Ttl: durationpb.New(time.Hour),
	}))
	must("create API key", err)

	// B's agent registered once and went away; its row then changes only
	// when someone drains or undrains it. B asks for it to drain, so an
	// undrain by A would show as well as a drain.
	poolB, err := p.q.WorkPoolGetByName(ctx, db.WorkPoolGetByNameParams{WorkspaceID: ws.ID, Name: b.pool})
	must("read pool", err)
	agentB, err := p.q.AgentUpsertSession(ctx, db.AgentUpsertSessionParams{
		ID: uuid.New(), WorkspaceID: ws.ID, PoolID: poolB.ID, Name: b.agent, Version: "test", Capacity: 1,
		SessionID: uuid.New(), TokenID: uuid.MustParse(tok.Msg.GetToken().GetId()), Now: p.clock.Now(),
	})
	must("register agent", err)
	must("disconnect agent", p.q.AgentDisconnect(ctx, db.AgentDisconnectParams{SessionID: agentB.SessionID, Now: p.clock.Now()}))
	_, err = c.pools.DrainAgent(ctx, connect.NewRequest(&ferryv1.DrainAgentRequest{Pool: b.pool, Name: b.agent}))
	must("drain agent", err)

	b.runID, b.tokenID, b.apiKeyID = run.Msg.GetRun().GetId(), tok.Msg.GetToken().GetId(), key.Msg.GetKey().GetId()
	b.markers = append(b.markers, b.runID, b.tokenID, b.apiKeyID, dep.Msg.GetDeployment().GetId(), sched.Msg.GetSchedule().GetId(),
		ws.ID.String(), agentB.ID.String())
	for _, m := range b.markers {
		if m == "" {
			t.Fatalf("B's objects lack an id: %q", b.markers)
		}
	}
	return ws.ID, b
}

// workspaceOfRun returns the workspace of a run, read from the database.
func (p *plane) workspaceOfRun(t *testing.T, id string) uuid.UUID {
	t.Helper()
	var ws uuid.UUID
	if err := p.pool.QueryRow(context.Background(), "SELECT workspace_id FROM runs WHERE id = $1", uuid.MustParse(id)).Scan(&ws); err != nil {
		t.Fatalf("workspace of run %s: %v", id, err)
	}
	return ws
}

// fingerprintExtra covers the tables whose rows belong to a workspace
// through another table.
var fingerprintExtra = map[string]string{
	"deployment_versions": "SELECT t::text FROM deployment_versions t JOIN deployments d ON d.id = t.deployment_id WHERE d.workspace_id = $1",
	"run_log_lines":       "SELECT t::text FROM run_log_lines t JOIN runs r ON r.id = t.run_id WHERE r.workspace_id = $1",
	"users (members)":     "SELECT t::text FROM users t JOIN memberships m ON m.user_id = t.id WHERE m.workspace_id = $1",
}

// fingerprint returns, for every table with a workspace_id column and the
// tables of fingerprintExtra, the count and a digest of workspace ws's
// rows, whole rows included, so any insert, update or delete shows.
func (p *plane) fingerprint(t *testing.T, ws uuid.UUID) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := p.pool.Query(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'workspace_id' ORDER BY table_name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	queries := make(map[string]string, len(tables)+len(fingerprintExtra))
	for _, table := range tables {
		queries[table] = fmt.Sprintf("SELECT t::text FROM %s t WHERE t.workspace_id = $1", pgx.Identifier{table}.Sanitize())
	}
	for name, q := range fingerprintExtra {
		queries[name] = q
	}
	out := make(map[string]string, len(queries))
	for name, q := range queries {
		var n int
		var digest string
		err := p.pool.QueryRow(ctx, "SELECT count(*), coalesce(md5(string_agg(r, '|' ORDER BY r)), '') FROM ("+q+") AS s(r)", ws).Scan(&n, &digest)
		if err != nil {
			t.Fatalf("fingerprint %s: %v", name, err)
		}
		out[name] = fmt.Sprintf("%d rows %s", n, digest)
	}
	return out
}

// stableFingerprint waits until the background writes of B's own setup
// (audit rows, agent sessions) have landed, then returns the fingerprint.
func (p *plane) stableFingerprint(t *testing.T, ws uuid.UUID) map[string]string {
	t.Helper()
	// Two reads a poll interval apart must agree.
	var last map[string]string
	eventually(t, "workspace B settles", func() error {
		next := p.fingerprint(t, ws)
		if last == nil {
			last = next
			return errors.New("first read")
		}
		if diff := cmp.Diff(last, next); diff != "" {
			last = next
			return errors.New("still changing: " + diff)
		}
		return nil
	})
	return last
}
