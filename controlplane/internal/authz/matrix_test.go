package authz

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/rego"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The generated package registers the ferry.v1 descriptors.
	_ "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// apiPackage is the proto package whose services the policy must cover.
const apiPackage = "ferry.v1"

// procedures lists every procedure of every service of ferry.v1, from the
// generated descriptors, as /package.Service/Method.
func procedures(t *testing.T) []string {
	t.Helper()
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage(apiPackage, func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for i := range services.Len() {
			sd := services.Get(i)
			methods := sd.Methods()
			for j := range methods.Len() {
				out = append(out, "/"+string(sd.FullName())+"/"+string(methods.Get(j).Name()))
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no services registered in package %s", apiPackage)
	}
	slices.Sort(out)
	return out
}

// policyPermissions evaluates data.ferry.authz.procedures of the built-in
// policy.
func policyPermissions(t *testing.T) map[string]string {
	t.Helper()
	modules, err := loadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){rego.Query("data.ferry.authz.procedures")}
	for _, m := range modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		t.Fatalf("evaluate procedures: %v", err)
	}
	raw, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		t.Fatalf("procedures is %T, not an object", rs[0].Expressions[0].Value)
	}
	out := make(map[string]string, len(raw))
	for proc, perm := range raw {
		s, ok := perm.(string)
		if !ok || s == "" {
			t.Fatalf("procedure %s has permission %v, not a non-empty string", proc, perm)
		}
		out[proc] = s
	}
	return out
}

// TestEveryProcedureHasPermission fails when an RPC of the generated
// descriptors has no permission in data.ferry.authz.procedures, so that a
// new RPC cannot ship unguarded, and when the policy lists a procedure
// that does not exist (a typo would leave the real one unlisted).
func TestEveryProcedureHasPermission(t *testing.T) {
	t.Parallel()
	perms := policyPermissions(t)
	procs := procedures(t)
	for _, p := range procs {
		if _, ok := perms[p]; !ok {
			t.Errorf("procedure %s has no permission in policy/authz/roles.rego (data.ferry.authz.procedures)", p)
		}
	}
	for p := range perms {
		if !slices.Contains(procs, p) {
			t.Errorf("policy/authz/roles.rego lists %s, which no service of %s defines", p, apiPackage)
		}
	}
}

// Callers of the matrix besides the roles.
const (
	callerAgent     = "agent"
	callerAnonymous = "anonymous"
)

// roleRank orders the roles; a role may call what any lower role may.
var roleRank = map[string]int{"viewer": 1, "operator": 2, "developer": 3, "admin": 4, "owner": 5}

// minimumRole is the expected table: for each procedure, the lowest role
// allowed to call it, or callerAgent (agents only) or callerAnonymous
// (everyone, credentials or not, except agents).
var minimumRole = map[string]string{
	"/ferry.v1.APIKeyService/CreateAPIKey":                     "admin",
	"/ferry.v1.APIKeyService/ListAPIKeys":                      "admin",
	"/ferry.v1.APIKeyService/RevokeAPIKey":                     "admin",
	"/ferry.v1.AgentService/ClaimRuns":                         callerAgent,
	"/ferry.v1.AgentService/GetLogCursors":                     callerAgent,
	"/ferry.v1.AgentService/Heartbeat":                         callerAgent,
	"/ferry.v1.AgentService/ReportStates":                      callerAgent,
	"/ferry.v1.AgentService/SendLogs":                          callerAgent,
	"/ferry.v1.AgentService/Subscribe":                         callerAgent,
	"/ferry.v1.AgentTokenService/CreateAgentToken":             "admin",
	"/ferry.v1.AgentTokenService/ListAgentTokens":              "admin",
	"/ferry.v1.AgentTokenService/RevokeAgentToken":             "admin",
	"/ferry.v1.AuditService/ListAuditEvents":                   "admin",
	"/ferry.v1.AuthService/Login":                              callerAnonymous,
	"/ferry.v1.AuthService/Logout":                             "viewer",
	"/ferry.v1.AuthService/WhoAmI":                             "viewer",
	"/ferry.v1.ConcurrencyLimitService/ApplyConcurrencyLimit":  "admin",
	"/ferry.v1.ConcurrencyLimitService/DeleteConcurrencyLimit": "admin",
	"/ferry.v1.ConcurrencyLimitService/ListConcurrencyLimits":  "viewer",
	"/ferry.v1.PauseService/Pause":                             "operator",
	"/ferry.v1.PauseService/Resume":                            "operator",
	"/ferry.v1.RunService/ExplainRun":                          "viewer",
	"/ferry.v1.RunService/GetRunStats":                         "viewer",
	"/ferry.v1.ScheduleService/ApplySchedule":                  "developer",
	"/ferry.v1.ScheduleService/BackfillSchedule":               "operator",
	"/ferry.v1.ScheduleService/DeleteSchedule":                 "developer",
	"/ferry.v1.ScheduleService/ListSchedules":                  "viewer",
	"/ferry.v1.ScheduleService/PauseSchedule":                  "operator",
	"/ferry.v1.ScheduleService/PreviewSchedule":                "viewer",
	"/ferry.v1.ScheduleService/ResumeSchedule":                 "operator",
	"/ferry.v1.DeploymentService/ApplyDeployment":              "developer",
	"/ferry.v1.DeploymentService/DeleteDeployment":             "developer",
	"/ferry.v1.DeploymentService/GetDeployment":                "viewer",
	"/ferry.v1.DeploymentService/ListDeploymentVersions":       "viewer",
	"/ferry.v1.DeploymentService/ListDeployments":              "viewer",
	"/ferry.v1.PolicyService/ActivatePolicyVersion":            "admin",
	"/ferry.v1.PolicyService/DeactivatePolicy":                 "admin",
	"/ferry.v1.PolicyService/DryRunPolicy":                     "developer",
	"/ferry.v1.PolicyService/GetPolicy":                        "developer",
	"/ferry.v1.PolicyService/ListPolicies":                     "developer",
	"/ferry.v1.PolicyService/UploadPolicy":                     "admin",
	"/ferry.v1.RunService/CancelRun":                           "operator",
	"/ferry.v1.RunService/CreateRun":                           "operator",
	"/ferry.v1.RunService/CreateRuns":                          "operator",
	"/ferry.v1.RunService/FollowRunLogs":                       "viewer",
	"/ferry.v1.RunService/GetRun":                              "viewer",
	"/ferry.v1.RunService/ListRunLogs":                         "viewer",
	"/ferry.v1.RunService/ListRunStateChanges":                 "viewer",
	"/ferry.v1.RunService/ListRuns":                            "viewer",
	"/ferry.v1.RunService/RetryRun":                            "operator",
	"/ferry.v1.RunService/WatchRun":                            "viewer",
	"/ferry.v1.SigningKeyService/ListSigningKeys":              "viewer",
	"/ferry.v1.SigningKeyService/RetireSigningKey":             "admin",
	"/ferry.v1.SigningKeyService/RotateSigningKey":             "admin",
	"/ferry.v1.UserService/AddMembership":                      "admin",
	"/ferry.v1.UserService/CreateServiceAccount":               "admin",
	"/ferry.v1.UserService/CreateUser":                         "admin",
	"/ferry.v1.UserService/ListUsers":                          "admin",
	"/ferry.v1.UserService/RemoveMembership":                   "admin",
	"/ferry.v1.WorkPoolService/ApplyWorkPool":                  "admin",
	"/ferry.v1.WorkPoolService/ApplyWorkQueue":                 "admin",
	"/ferry.v1.WorkPoolService/DeleteWorkPool":                 "admin",
	"/ferry.v1.WorkPoolService/DrainAgent":                     "operator",
	"/ferry.v1.WorkPoolService/GetWorkPool":                    "viewer",
	"/ferry.v1.WorkPoolService/ListAgents":                     "viewer",
	"/ferry.v1.WorkPoolService/ListWorkPools":                  "viewer",
	"/ferry.v1.WorkPoolService/ListWorkQueues":                 "viewer",
	"/ferry.v1.WorkPoolService/UndrainAgent":                   "operator",
	"/ferry.v1.WorkspaceService/CreateWorkspace":               "admin",
	"/ferry.v1.WorkspaceService/ListWorkspaces":                "viewer",
}

// expectAllowed reports whether caller (a role, callerAgent or
// callerAnonymous) may call a procedure whose table entry is minimum.
func expectAllowed(caller, minimum string) bool {
	switch minimum {
	case callerAgent:
		return caller == callerAgent
	case callerAnonymous:
		return caller != callerAgent
	}
	return roleRank[caller] >= roleRank[minimum]
}

// matrixSubject returns the subject of a matrix caller.
func matrixSubject(caller string) Subject {
	ws := uuid.MustParse("0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10")
	switch caller {
	case callerAgent:
		return Subject{Kind: KindAgent, ID: "agent-token:ab12cd34", WorkspaceID: ws}
	case callerAnonymous:
		return Subject{Kind: KindAnonymous}
	}
	return Subject{Kind: KindAPIKey, ID: "apikey:ab12cd34", Role: caller, WorkspaceID: ws}
}

// TestRoleProcedureMatrix checks every procedure of the generated
// descriptors for every role, agents and anonymous callers against the
// expected table, through the real policy.
func TestRoleProcedureMatrix(t *testing.T) {
	t.Parallel()
	a, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	callers := []string{"viewer", "operator", "developer", "admin", "owner", callerAgent, callerAnonymous}
	procs := procedures(t)
	for _, proc := range procs {
		minimum, ok := minimumRole[proc]
		if !ok {
			t.Errorf("procedure %s is missing from the expected table minimumRole", proc)
			continue
		}
		for _, caller := range callers {
			d, err := a.Authorize(context.Background(), Input{Subject: matrixSubject(caller), Procedure: proc})
			if err != nil {
				t.Fatalf("Authorize(%s, %s): %v", caller, proc, err)
			}
			if want := expectAllowed(caller, minimum); d.Allow != want {
				t.Errorf("%s calling %s: allow = %v, want %v (%s)", caller, proc, d.Allow, want, d.Reason)
			}
			if !d.Allow && d.Reason == "" {
				t.Errorf("%s calling %s: denied without a reason", caller, proc)
			}
		}
	}
	for proc := range minimumRole {
		if !slices.Contains(procs, proc) {
			t.Errorf("expected table lists %s, which no service defines", proc)
		}
	}
}
