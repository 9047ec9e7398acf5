package ferry.authz

# procedures gives the permission each procedure of the API needs. Every
# procedure must be listed: a procedure missing here is denied, and a Go
# test in controlplane/internal/authz fails for any procedure of the
# generated service descriptors that has no entry, so a new RPC cannot ship
# unguarded. Two permissions are special: "public" (public_permission)
# needs no credentials, "agent.work" (agent_permission) is held by agents
# alone. The values are literal strings, so that OPA evaluates the object
# as a constant on every call.
procedures := {
	# AgentService: the agents' own protocol.
	"/ferry.v1.AgentService/Subscribe": "agent.work",
	"/ferry.v1.AgentService/ClaimRuns": "agent.work",
	"/ferry.v1.AgentService/ReportStates": "agent.work",
	"/ferry.v1.AgentService/Heartbeat": "agent.work",
	"/ferry.v1.AgentService/SendLogs": "agent.work",
	"/ferry.v1.AgentService/GetLogCursors": "agent.work",
	# APIKeyService
	"/ferry.v1.APIKeyService/CreateAPIKey": "apikeys.write",
	"/ferry.v1.APIKeyService/ListAPIKeys": "apikeys.read",
	"/ferry.v1.APIKeyService/RevokeAPIKey": "apikeys.write",
	# AgentTokenService
	"/ferry.v1.AgentTokenService/CreateAgentToken": "agenttokens.write",
	"/ferry.v1.AgentTokenService/ListAgentTokens": "agenttokens.read",
	"/ferry.v1.AgentTokenService/RevokeAgentToken": "agenttokens.write",
	# AuditService
	"/ferry.v1.AuditService/ListAuditEvents": "audit.read",
	# AuthService: logging in needs no credentials; the rest is about the
	# caller itself.
	"/ferry.v1.AuthService/Login": "public",
	"/ferry.v1.AuthService/Logout": "account.self",
	"/ferry.v1.AuthService/WhoAmI": "account.self",
	# ConcurrencyLimitService: limits shape the whole workspace's capacity.
	"/ferry.v1.ConcurrencyLimitService/ApplyConcurrencyLimit": "limits.write",
	"/ferry.v1.ConcurrencyLimitService/ListConcurrencyLimits": "limits.read",
	"/ferry.v1.ConcurrencyLimitService/DeleteConcurrencyLimit": "limits.write",
	# DeploymentService
	"/ferry.v1.DeploymentService/ApplyDeployment": "deployments.write",
	"/ferry.v1.DeploymentService/GetDeployment": "deployments.read",
	"/ferry.v1.DeploymentService/ListDeployments": "deployments.read",
	"/ferry.v1.DeploymentService/DeleteDeployment": "deployments.write",
	"/ferry.v1.DeploymentService/ListDeploymentVersions": "deployments.read",
	# PauseService: holding back and releasing dispatch is operating.
	"/ferry.v1.PauseService/Pause": "dispatch.pause",
	"/ferry.v1.PauseService/Resume": "dispatch.pause",
	# PolicyService: dry runs only read.
	"/ferry.v1.PolicyService/UploadPolicy": "policies.write",
	"/ferry.v1.PolicyService/ListPolicies": "policies.read",
	"/ferry.v1.PolicyService/GetPolicy": "policies.read",
	"/ferry.v1.PolicyService/ActivatePolicyVersion": "policies.write",
	"/ferry.v1.PolicyService/DeactivatePolicy": "policies.write",
	"/ferry.v1.PolicyService/DryRunPolicy": "policies.read",
	# RunService
	"/ferry.v1.RunService/CreateRun": "runs.create",
	"/ferry.v1.RunService/CreateRuns": "runs.create",
	"/ferry.v1.RunService/GetRun": "runs.read",
	"/ferry.v1.RunService/ListRuns": "runs.read",
	"/ferry.v1.RunService/CancelRun": "runs.cancel",
	"/ferry.v1.RunService/RetryRun": "runs.retry",
	"/ferry.v1.RunService/WatchRun": "runs.read",
	"/ferry.v1.RunService/ListRunStateChanges": "runs.read",
	"/ferry.v1.RunService/ListRunLogs": "logs.read",
	"/ferry.v1.RunService/FollowRunLogs": "logs.read",
	"/ferry.v1.RunService/ExplainRun": "runs.read",
	"/ferry.v1.RunService/GetRunStats": "runs.read",
	# ScheduleService: a backfill creates runs.
	"/ferry.v1.ScheduleService/ApplySchedule": "schedules.write",
	"/ferry.v1.ScheduleService/ListSchedules": "schedules.read",
	"/ferry.v1.ScheduleService/DeleteSchedule": "schedules.write",
	"/ferry.v1.ScheduleService/PauseSchedule": "schedules.pause",
	"/ferry.v1.ScheduleService/ResumeSchedule": "schedules.pause",
	"/ferry.v1.ScheduleService/PreviewSchedule": "schedules.read",
	"/ferry.v1.ScheduleService/BackfillSchedule": "runs.create",
	# SigningKeyService
	"/ferry.v1.SigningKeyService/RotateSigningKey": "keys.rotate",
	"/ferry.v1.SigningKeyService/ListSigningKeys": "keys.read",
	"/ferry.v1.SigningKeyService/RetireSigningKey": "keys.rotate",
	# UserService
	"/ferry.v1.UserService/CreateUser": "users.write",
	"/ferry.v1.UserService/ListUsers": "users.read",
	"/ferry.v1.UserService/AddMembership": "users.write",
	"/ferry.v1.UserService/RemoveMembership": "users.write",
	"/ferry.v1.UserService/CreateServiceAccount": "users.write",
	# WorkPoolService
	"/ferry.v1.WorkPoolService/ApplyWorkPool": "pools.write",
	"/ferry.v1.WorkPoolService/GetWorkPool": "pools.read",
	"/ferry.v1.WorkPoolService/ListWorkPools": "pools.read",
	"/ferry.v1.WorkPoolService/DeleteWorkPool": "pools.write",
	"/ferry.v1.WorkPoolService/ApplyWorkQueue": "pools.write",
	"/ferry.v1.WorkPoolService/ListWorkQueues": "pools.read",
	"/ferry.v1.WorkPoolService/ListAgents": "agents.read",
	# Draining an agent holds back dispatch to it, as a pause does.
	"/ferry.v1.WorkPoolService/DrainAgent": "agents.drain",
	"/ferry.v1.WorkPoolService/UndrainAgent": "agents.drain",
	# WorkspaceService: creating a tenant is the installation's business.
	# The role only opens the door; the handler also requires that the role
	# be held in the installation's first workspace, as for signing keys.
	# Listing shows callers their own memberships.
	"/ferry.v1.WorkspaceService/CreateWorkspace": "workspaces.create",
	"/ferry.v1.WorkspaceService/ListWorkspaces": "account.self",
}

# public_permission marks a procedure any caller may make, credentials or
# not, such as logging in.
public_permission := "public"

# agent_permission marks the agent protocol, which only agents may call and
# which no role holds.
agent_permission := "agent.work"

# roles maps each built-in role to the permissions it holds. Each role holds
# the permissions of the role below it, and each but owner some more:
# viewer < operator < developer < admin <= owner (a test checks it). The
# sets are written out rather than built from one another, because OPA
# would build them again on every call.
#
#   viewer     reads everything but the workspace's credentials, people,
#              policies and audit trail; account.self covers calls about
#              the caller's own identity.
#   operator   adds running, cancelling and retrying what exists,
#              pausing dispatch and schedules, and draining agents.
#   developer  adds changing deployments and schedules, and reading the
#              workspace's policies, to test against them.
#   admin      adds the workspace's infrastructure (pools, concurrency
#              limits), credentials, people, policies and audit trail, and
#              the installation-wide keys.rotate and workspaces.create,
#              which the handlers grant only to the admins of the
#              installation's first workspace.
#   owner      holds the admin's permissions. An owner differs from an
#              admin in the roles it may grant (the owner role), which the
#              identity handlers decide by rank (auth.Role.CanGrant).
roles := {
	"viewer": {
		"account.self", "agents.read", "deployments.read", "keys.read", "limits.read", "logs.read", "pools.read",
		"runs.read", "schedules.read",
	},
	"operator": {
		"account.self", "agents.read", "deployments.read", "keys.read", "limits.read", "logs.read", "pools.read",
		"runs.read", "schedules.read",
		"agents.drain", "dispatch.pause", "runs.cancel", "runs.create", "runs.retry", "schedules.pause",
	},
	"developer": {
		"account.self", "agents.read", "deployments.read", "keys.read", "limits.read", "logs.read", "pools.read",
		"runs.read", "schedules.read",
		"agents.drain", "dispatch.pause", "runs.cancel", "runs.create", "runs.retry", "schedules.pause",
		"deployments.write", "policies.read", "schedules.write",
	},
	"admin": {
		"account.self", "agents.read", "deployments.read", "keys.read", "limits.read", "logs.read", "pools.read",
		"runs.read", "schedules.read",
		"agents.drain", "dispatch.pause", "runs.cancel", "runs.create", "runs.retry", "schedules.pause",
		"deployments.write", "policies.read", "schedules.write",
		"agenttokens.read", "agenttokens.write", "apikeys.read", "apikeys.write", "audit.read", "keys.rotate",
		"limits.write", "policies.write", "pools.write", "users.read", "users.write", "workspaces.create",
	},
	"owner": {
		"account.self", "agents.read", "deployments.read", "keys.read", "limits.read", "logs.read", "pools.read",
		"runs.read", "schedules.read",
		"agents.drain", "dispatch.pause", "runs.cancel", "runs.create", "runs.retry", "schedules.pause",
		"deployments.write", "policies.read", "schedules.write",
		"agenttokens.read", "agenttokens.write", "apikeys.read", "apikeys.write", "audit.read", "keys.rotate",
		"limits.write", "policies.write", "pools.write", "users.read", "users.write", "workspaces.create",
	},
}
