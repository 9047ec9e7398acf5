package ferry.authz_test

import data.ferry.authz

# call returns the input of a call of procedure by an API key of role.
call(role, procedure) := {
	"subject": {"kind": "apikey", "id": "apikey:ab12cd34", "role": role, "workspace": "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10"},
	"procedure": procedure,
	"resource": {"type": "run", "deployment": "etl"},
}

agent_call(procedure) := {
	"subject": {"kind": "agent", "id": "agent-token:ab12cd34", "role": "", "workspace": "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10"},
	"procedure": procedure,
	"resource": {},
}

anonymous_call(procedure) := {"subject": {"kind": "anonymous", "id": "", "role": "", "workspace": ""}, "procedure": procedure}

create_run := "/ferry.v1.RunService/CreateRun"

get_run := "/ferry.v1.RunService/GetRun"

claim_runs := "/ferry.v1.AgentService/ClaimRuns"

login := "/ferry.v1.AuthService/Login"

# expected lists, per role, one procedure the role may call and one it may
# not; the matrix over every procedure is checked from Go.
expected := {
	"viewer": {"allowed": get_run, "denied": create_run, "missing": "runs.create"},
	"operator": {"allowed": create_run, "denied": "/ferry.v1.DeploymentService/ApplyDeployment", "missing": "deployments.write"},
	"developer": {"allowed": "/ferry.v1.DeploymentService/ApplyDeployment", "denied": "/ferry.v1.WorkPoolService/ApplyWorkPool", "missing": "pools.write"},
	"admin": {"allowed": "/ferry.v1.SigningKeyService/RotateSigningKey", "denied": "", "missing": ""},
	"owner": {"allowed": "/ferry.v1.AgentTokenService/CreateAgentToken", "denied": "", "missing": ""},
}

test_every_role_is_tested if {
	object.keys(expected) == object.keys(authz.roles)
}

test_each_role_allowed_its_procedure if {
	every role, want in expected {
		d := authz.decision with input as call(role, want.allowed)
		d.allow
		d.rule == "role"
		d.reason == sprintf("role %s has permission %s", [role, authz.procedures[want.allowed]])
	}
}

test_each_role_denied_beyond_its_permissions if {
	every role, want in {r: w | some r, w in expected; w.denied != ""} {
		d := authz.decision with input as call(role, want.denied)
		not d.allow
		d.permission == want.missing
		d.reason == sprintf("role: %s lacks permission %s", [role, want.missing])
	}
}

test_viewer_denied_create_run_names_permission if {
	d := authz.decision with input as call("viewer", create_run)
	d == {
		"allow": false,
		"rule": "role",
		"permission": "runs.create",
		"reason": "role: viewer lacks permission runs.create",
	}
}

test_roles_are_nested if {
	order := ["viewer", "operator", "developer", "admin", "owner"]
	every i, role in array.slice(order, 0, 4) {
		lower := authz.roles[role]
		higher := authz.roles[order[i + 1]]
		lower - higher == set()
	}
}

test_each_role_but_owner_adds_permissions if {
	order := ["viewer", "operator", "developer", "admin"]
	every i, role in array.slice(order, 0, 3) {
		count(authz.roles[order[i + 1]] - authz.roles[role]) > 0
	}
}

test_special_permissions if {
	authz.procedures["/ferry.v1.AgentService/Subscribe"] == authz.agent_permission
	authz.procedures["/ferry.v1.AuthService/Login"] == authz.public_permission
}

test_owner_has_every_role_permission if {
	every _, permission in authz.procedures {
		permission in ({authz.agent_permission, authz.public_permission} | authz.roles.owner)
	}
}

test_no_role_holds_the_agent_permission if {
	every _, permissions in authz.roles {
		not authz.agent_permission in permissions
	}
}

test_owner_and_admin_call_the_same_procedures if {
	authz.roles.owner == authz.roles.admin
}

test_every_role_permission_guards_a_procedure if {
	used := {permission | some permission in authz.procedures}
	every _, permissions in authz.roles {
		permissions - used == set()
	}
}

test_login_is_the_only_public_procedure if {
	public := {procedure | some procedure, permission in authz.procedures; permission == authz.public_permission}
	public == {login}
}

test_anonymous_may_log_in if {
	d := authz.decision with input as anonymous_call(login)
	d.allow
	d.rule == "public"
}

test_unknown_role_denied if {
	d := authz.decision with input as call("superuser", get_run)
	not d.allow
	d.reason == "role: superuser lacks permission runs.read"
}

test_missing_role_denied if {
	d := authz.decision with input as call("", get_run)
	not d.allow
	d.reason == "role: a caller without a role lacks permission runs.read"
}

test_unknown_procedure_denied_for_owner if {
	d := authz.decision with input as call("owner", "/ferry.v1.RunService/DropEverything")
	not d.allow
	d.rule == "unknown_procedure"
	d.permission == ""
	d.reason == "unknown_procedure: /ferry.v1.RunService/DropEverything has no permission in the policy, so no one may call it"
}

test_missing_input_denied if {
	d := authz.decision
	not d.allow
	d.rule == "input"
	not authz.allow
}

test_input_not_an_object_denied if {
	not authz.allow with input as ["owner"]
}

test_missing_procedure_denied if {
	d := authz.decision with input as {"subject": {"kind": "apikey", "role": "owner"}}
	not d.allow
	d.reason == "unknown_procedure: null has no permission in the policy, so no one may call it"
}

test_agent_may_call_agent_service if {
	d := authz.decision with input as agent_call(claim_runs)
	d.allow
	d.rule == "agent"
	d.permission == "agent.work"
}

test_agent_denied_outside_agent_service if {
	d := authz.decision with input as agent_call(get_run)
	not d.allow
	d.rule == "agent_only"
	d.reason == "agent_only: an agent may call only AgentService, not /ferry.v1.RunService/GetRun"
}

test_agent_with_role_still_denied_outside_agent_service if {
	order := object.union(agent_call(get_run), {"subject": {"role": "owner"}})
	not authz.allow with input as order
}

test_roles_denied_agent_service if {
	every role, _ in authz.roles {
		d := authz.decision with input as call(role, claim_runs)
		not d.allow
		d.reason == "agent_only: only an agent may call /ferry.v1.AgentService/ClaimRuns"
	}
}

test_anonymous_denied if {
	d := authz.decision with input as anonymous_call(get_run)
	not d.allow
	d.rule == "unauthenticated"
	d.reason == "unauthenticated: /ferry.v1.RunService/GetRun needs credentials"
}

test_subject_without_kind_is_anonymous if {
	d := authz.decision with input as {"procedure": get_run, "subject": {"role": "owner"}}
	d.rule == "unauthenticated"
}

test_public_procedure_allows_anyone if {
	authz.allow with input as call("viewer", login)
}

test_agent_denied_public_procedure if {
	not authz.allow with input as agent_call(login)
}

test_workspace_deny_refuses_allowed_call if {
	d := authz.decision with input as call("owner", get_run)
		with data.ferry.authz.workspace.deny as {"runs are under review", "the workspace is frozen"}
	not d.allow
	d.rule == "workspace"
	d.reason == "workspace: runs are under review; workspace: the workspace is frozen"
}

test_workspace_deny_adds_to_role_denial if {
	deny := authz.deny with input as call("viewer", create_run) with data.ferry.authz.workspace.deny as {"frozen"}
	deny == {"role: viewer lacks permission runs.create", "workspace: frozen"}
}

test_empty_workspace_deny_changes_nothing if {
	authz.allow with input as call("viewer", get_run) with data.ferry.authz.workspace.deny as set()
}

test_held if {
	authz.held with input as call("developer", "/ferry.v1.DeploymentService/ApplyDeployment")
	not authz.held with input as agent_call(claim_runs)
	not authz.held with input as call("viewer", create_run)
}

test_default_outcome_denies if {
	d := authz.decision with input as call("viewer", get_run) with authz.procedures as {get_run: "runs.read"}
		with authz.needed as "runs.read" with authz.deny as set() with authz.held as false
	not d.allow
}

create_workspace := "/ferry.v1.WorkspaceService/CreateWorkspace"

list_workspaces := "/ferry.v1.WorkspaceService/ListWorkspaces"

test_workspace_creation_needs_admin if {
	every role in ["admin", "owner"] {
		authz.allow with input as call(role, create_workspace)
	}
	d := authz.decision with input as call("developer", create_workspace)
	not d.allow
	d.reason == "role: developer lacks permission workspaces.create"
}

test_listing_workspaces_needs_a_person_or_key if {
	authz.allow with input as call("viewer", list_workspaces)
	not authz.allow with input as agent_call(list_workspaces)
	not authz.allow with input as anonymous_call(list_workspaces)
}

drain_agent := "/ferry.v1.WorkPoolService/DrainAgent"

test_operator_may_drain_agents_viewer_may_not if {
	authz.decision.allow with input as call("operator", drain_agent)
	d := authz.decision with input as call("viewer", drain_agent)
	not d.allow
	d.permission == "agents.drain"
}
