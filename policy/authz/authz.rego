# Package ferry.authz decides whether a caller may make a call to the
# control plane's API. The control plane evaluates decision for every call,
# after authentication and before validation, with this input:
#
#   {
#     "subject": {"kind": "apikey", "id": "apikey:ab12cd34", "role": "viewer",
#                 "workspace": "<uuid>"},
#     "procedure": "/ferry.v1.RunService/CreateRun",
#     "resource": {"type": "run", "deployment": "etl"}
#   }
#
# subject.kind is "agent" for agent tokens, "anonymous" for a call without
# credentials, and another word ("apikey", "session") for people and
# programs, whose permissions come from their role. resource holds the
# identifying fields of the request (type, id, name, pool, deployment,
# queue) when the call has them; the built-in rules do not read it, a
# workspace's rules may.
#
# The policy denies by default: a call is allowed only when the procedure
# needs a permission the subject holds (roles.rego) and deny is empty. Each
# member of deny names its rule: "rule: text". A workspace adds denials,
# never permissions, with modules of package ferry.authz.workspace whose
# deny messages join this deny set prefixed "workspace: ".
package ferry.authz

# decision is the answer the control plane reads: whether the call is
# allowed, the rule that decided, the permission the procedure needs (""
# when the procedure is unknown) and a reason a person can act on, such as
# "role: viewer lacks permission runs.create".
decision := {
	"allow": outcome.allow,
	"rule": outcome.rule,
	"permission": needed,
	"reason": outcome.reason,
}

# allow reports whether the call may proceed.
allow := outcome.allow

# needed is the permission the called procedure needs, "" for a procedure
# the policy does not list.
default needed := ""

needed := procedures[input.procedure]

# subject_kind is how the caller authenticated; "anonymous" without a
# subject.
default subject_kind := "anonymous"

subject_kind := input.subject.kind if is_string(input.subject.kind)

# role is the caller's role; "" for agents and anonymous callers.
default role := ""

role := input.subject.role if is_string(input.subject.role)

# held reports whether the caller's role holds the needed permission.
held if roles[role][needed]

# deny collects the reasons to refuse the call, each "rule: text". The call
# is allowed only when it is empty. Each rule tests its cheapest condition
# first, since every call evaluates all of them.
deny contains "input: the input document is missing or not an object" if not input_is_object

deny contains msg if {
	needed == ""
	input_is_object
	msg := sprintf("unknown_procedure: %v has no permission in the policy, so no one may call it", [object.get(input, "procedure", null)])
}

deny contains sprintf("unauthenticated: %s needs credentials", [input.procedure]) if {
	subject_kind == "anonymous"
	needed != ""
	needed != public_permission
}

deny contains sprintf("agent_only: an agent may call only AgentService, not %s", [input.procedure]) if {
	subject_kind == "agent"
	needed != ""
	needed != agent_permission
}

deny contains sprintf("agent_only: only an agent may call %s", [input.procedure]) if {
	needed == agent_permission
	subject_kind != "agent"
}

deny contains sprintf("role: %s lacks permission %s", [holder, needed]) if {
	not held
	subject_kind != "agent"
	subject_kind != "anonymous"
	needed != ""
	needed != public_permission
	needed != agent_permission
}

# workspace: the workspace's own policy adds denials; it can remove none.
deny contains sprintf("workspace: %s", [msg]) if {
	some msg in data.ferry.authz.workspace.deny
}

# holder names the caller in the role rule's message.
holder := role if role != ""

holder := "a caller without a role" if role == ""

# outcome gives the decision: refused with the sorted deny messages, or
# allowed with the rule that let the call through.
default outcome := {"allow": false, "rule": "default", "reason": "no rule allowed the call"}

outcome := {"allow": false, "rule": split(denials[0], ":")[0], "reason": concat("; ", denials)} if {
	count(deny) > 0
	denials := sort(deny)
} else := {"allow": true, "rule": "public", "reason": sprintf("%s is public", [input.procedure])} if {
	needed == public_permission
} else := {"allow": true, "rule": "agent", "reason": sprintf("agents may call %s", [input.procedure])} if {
	subject_kind == "agent"
	needed == agent_permission
} else := {"allow": true, "rule": "role", "reason": sprintf("role %s has permission %s", [role, needed])} if {
	held
}

# input_is_object reports whether there is an input document and it is an
# object. A rule of its own, because a negated call on an undefined input is
# itself undefined.
input_is_object if is_object(input)
