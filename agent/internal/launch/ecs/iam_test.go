package ecs_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// The agent's IAM policy template and the Terraform module that grants it,
// relative to this package.
const (
	policyFile   = "../../../../infra/iam/ferry-agent-ecs-policy.json"
	terraformDir = "../../../../infra/terraform/ferry-agent-ecs"
)

// Sample values of the policy template's placeholders; they match the
// launcher configuration of [iamLauncher].
var policyVars = map[string]string{
	"region":             awsfake.Region,
	"account_id":         awsfake.AccountID,
	"cluster_name":       "ferry",
	"family_prefix":      ecs.DefaultFamilyPrefix,
	"log_group":          "/ferry/runs",
	"task_role_arn":      "arn:aws:iam::123456789012:role/run-task",
	"execution_role_arn": "arn:aws:iam::123456789012:role/exec",
}

// impliedActions are the IAM actions the policy grants that no launcher call
// names as its operation, each with why AWS authorizes it for a call the
// launcher makes.
var impliedActions = map[string]string{
	// Tag on create: RunTask and RegisterTaskDefinition carry tags (the
	// run id, attempt and agent on tasks; the pool's tags on both), and AWS
	// then also authorizes ecs:TagResource on the resource being created,
	// with ecs:CreateAction naming the creating call.
	"ecs:TagResource": "RunTask and RegisterTaskDefinition with tags authorize ecs:TagResource",
	// RegisterTaskDefinition names the runs' task role and execution role,
	// and AWS authorizes iam:PassRole on each, passed to
	// ecs-tasks.amazonaws.com.
	"iam:PassRole": "RegisterTaskDefinition with taskRoleArn or executionRoleArn authorizes iam:PassRole",
}

// noResourceLevel are the actions AWS authorizes only on Resource "*"; the
// others must be scoped by the template's placeholders.
var noResourceLevel = map[string]bool{
	"ecs:RegisterTaskDefinition": true,
	"ecs:DescribeTaskDefinition": true,
	// ListTasks is scoped by its ecs:cluster condition instead.
	"ecs:ListTasks": true,
}

// actionScopes names, for each scoped action, the placeholders one of which
// each of its resources must contain, and the condition keys its statement
// must set, with every value containing the given placeholder (an empty one
// only requires the condition).
var actionScopes = map[string]struct {
	resources  []string
	conditions map[string]string
}{
	"ecs:RunTask": {[]string{"${family_prefix}"}, map[string]string{"ecs:cluster": "${cluster_name}"}},
	"ecs:TagResource": {[]string{"${family_prefix}", "${cluster_name}"},
		map[string]string{"ecs:CreateAction": ""}},
	"ecs:DescribeTasks":          {[]string{"${cluster_name}"}, nil},
	"ecs:StopTask":               {[]string{"${cluster_name}"}, nil},
	"ecs:ListTasks":              {nil, map[string]string{"ecs:cluster": "${cluster_name}"}},
	"logs:GetLogEvents":          {[]string{"${log_group}"}, nil},
	"iam:PassRole":               {[]string{"${task_role_arn}", "${execution_role_arn}"}, map[string]string{"iam:PassedToService": ""}},
	"ecs:DescribeTaskDefinition": {},
	"ecs:RegisterTaskDefinition": {},
}

// TestIAMPolicyMatchesLauncher drives the launcher through every path that
// calls AWS, turns the calls the fake recorded into the IAM requests AWS
// would authorize, and checks the agent's policy allows each of them and
// grants nothing else.
func TestIAMPolicyMatchesLauncher(t *testing.T) {
	t.Parallel()
	raw, rendered := loadPolicy(t)
	checkScoping(t, raw)

	srv := driveEveryPath(t)
	var requests []iamRequest
	called := map[string]bool{}
	for _, c := range srv.Calls("") {
		reqs := iamRequests(t, c)
		called[reqs[0].action] = true
		requests = append(requests, reqs...)
	}
	denied := map[string]bool{}
	for _, r := range requests {
		key := fmt.Sprint(r.action, r.resource, r.context)
		if !denied[key] && !rendered.allows(t, r) {
			denied[key] = true
			t.Errorf("the policy denies %s on %s (context %v), which %s needs", r.action, r.resource, r.context, r.call)
		}
	}

	used := maps.Clone(called)
	for _, r := range requests {
		if _, ok := impliedActions[r.action]; ok {
			used[r.action] = true
		}
	}
	for action, why := range impliedActions {
		if !used[action] {
			t.Errorf("no launcher call needs %s (%s); drop it from the policy", action, why)
		}
	}
	granted := rendered.actions()
	for _, a := range slices.Sorted(maps.Keys(used)) {
		if !granted[a] {
			t.Errorf("the launcher uses %s, which no statement's Action names", a)
		}
	}
	for _, a := range slices.Sorted(maps.Keys(granted)) {
		if !used[a] {
			t.Errorf("the policy grants %s, which the launcher never uses", a)
		}
	}
	if t.Failed() {
		t.Logf("operations called: %v", slices.Sorted(maps.Keys(called)))
	}
}

// TestIAMPolicyScope checks that the policy, as the launcher's calls are
// evaluated against it, refuses what lies outside the pool: another
// cluster, family, log group or role. It keeps the evaluator of
// [TestIAMPolicyMatchesLauncher] honest.
func TestIAMPolicyScope(t *testing.T) {
	t.Parallel()
	_, p := loadPolicy(t)
	const (
		arnECS  = "arn:aws:ecs:us-east-1:123456789012:"
		cluster = arnECS + "cluster/ferry"
		stream  = "arn:aws:logs:us-east-1:123456789012:log-group:/ferry/runs:log-stream:ecs/run/0abc"
	)
	tests := []struct {
		name string
		req  iamRequest
		want bool
	}{
		{"run a ferry- task definition on the cluster",
			iamRequest{action: "ecs:RunTask", resource: arnECS + "task-definition/ferry-0a1b:3",
				context: map[string]string{"ecs:cluster": cluster}}, true},
		{"run a ferry- task definition on another cluster",
			iamRequest{action: "ecs:RunTask", resource: arnECS + "task-definition/ferry-0a1b:3",
				context: map[string]string{"ecs:cluster": arnECS + "cluster/prod"}}, false},
		{"run another family",
			iamRequest{action: "ecs:RunTask", resource: arnECS + "task-definition/billing:1",
				context: map[string]string{"ecs:cluster": cluster}}, false},
		{"run in another region",
			iamRequest{action: "ecs:RunTask", resource: "arn:aws:ecs:eu-west-1:123456789012:task-definition/ferry-0a1b:3",
				context: map[string]string{"ecs:cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/ferry"}}, false},
		{"stop a task of the cluster",
			iamRequest{action: "ecs:StopTask", resource: arnECS + "task/ferry/0abc"}, true},
		{"stop a task of a cluster sharing the prefix",
			iamRequest{action: "ecs:StopTask", resource: arnECS + "task/ferry-prod/0abc"}, false},
		{"describe a task of another cluster",
			iamRequest{action: "ecs:DescribeTasks", resource: arnECS + "task/prod/0abc"}, false},
		{"list the tasks of another cluster",
			iamRequest{action: "ecs:ListTasks", resource: "*", context: map[string]string{"ecs:cluster": arnECS + "cluster/prod"}},
			false},
		{"tag an existing task",
			iamRequest{action: "ecs:TagResource", resource: arnECS + "task/ferry/0abc"}, false},
		{"tag a task while running it",
			iamRequest{action: "ecs:TagResource", resource: arnECS + "task/ferry/0abc",
				context: map[string]string{"ecs:CreateAction": "RunTask"}}, true},
		{"read the runs' log group", iamRequest{action: "logs:GetLogEvents", resource: stream}, true},
		{"read another log group",
			iamRequest{action: "logs:GetLogEvents", resource: strings.Replace(stream, "/ferry/runs", "/prod/app", 1)}, false},
		{"pass another role to ECS",
			iamRequest{action: "iam:PassRole", resource: "arn:aws:iam::123456789012:role/admin",
				context: map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}}, false},
		{"pass the task role to EC2",
			iamRequest{action: "iam:PassRole", resource: policyVars["task_role_arn"],
				context: map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}}, false},
		{"delete the cluster", iamRequest{action: "ecs:DeleteCluster", resource: cluster}, false},
		{"write run logs", iamRequest{action: "logs:PutLogEvents", resource: stream}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.allows(t, tt.req); got != tt.want {
				t.Errorf("allows(%s on %s, %v) = %t, want %t", tt.req.action, tt.req.resource, tt.req.context, got, tt.want)
			}
		})
	}
}

// TestTerraformGrantsThePolicy checks that the Terraform module renders the
// policy file with templatefile, fills exactly its placeholders, and gives
// it, and nothing else, to the role of the agent's task.
func TestTerraformGrantsThePolicy(t *testing.T) {
	t.Parallel()
	mainTF := readFile(t, filepath.Join(terraformDir, "main.tf"))
	variablesTF := readFile(t, filepath.Join(terraformDir, "variables.tf"))

	call := regexp.MustCompile(`(?s)agent_policy\s*=\s*templatefile\("\$\{path\.module\}/([^"]+)",\s*\{(.*?)\}\)`)
	m := call.FindStringSubmatch(mainTF)
	if m == nil {
		t.Fatal("main.tf has no local agent_policy = templatefile(\"${path.module}/...\", {...})")
	}
	if n := strings.Count(mainTF, "templatefile("); n != 1 {
		t.Errorf("main.tf calls templatefile %d times, want 1", n)
	}
	if got := filepath.Clean(filepath.Join(terraformDir, m[1])); got != filepath.Clean(policyFile) {
		t.Errorf("templatefile renders %s, want %s", got, filepath.Clean(policyFile))
	}

	args := map[string]string{}
	for _, a := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*(\S+)\s*$`).FindAllStringSubmatch(m[2], -1) {
		args[a[1]] = a[2]
	}
	placeholders := map[string]bool{}
	for _, p := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(readFile(t, policyFile), -1) {
		placeholders[p[1]] = true
	}
	if got, want := slices.Sorted(maps.Keys(args)), slices.Sorted(maps.Keys(placeholders)); !slices.Equal(got, want) {
		t.Errorf("templatefile fills %v, the policy's placeholders are %v", got, want)
	}
	for name, value := range args {
		v, ok := strings.CutPrefix(value, "var.")
		if ok && !strings.Contains(variablesTF, `variable "`+v+`" {`) {
			t.Errorf("templatefile fills %s with %s, which variables.tf does not declare", name, value)
		}
	}

	if block := tfBlock(mainTF, `resource "aws_iam_role_policy" "agent"`); !regexp.MustCompile(
		`(?m)^\s*policy\s*=\s*local\.agent_policy$`).MatchString(block) {
		t.Errorf("resource aws_iam_role_policy.agent does not set policy = local.agent_policy:\n%s", block)
	}
	checks := []struct {
		what string
		re   string
		want int
	}{
		{"nothing else is attached to the agent's role", `role\s*=\s*aws_iam_role\.agent\.(id|name)\b`, 1},
		{"the agent's task runs as that role", `task_role_arn\s*=\s*aws_iam_role\.agent\.arn\b`, 1},
	}
	for _, c := range checks {
		if n := len(regexp.MustCompile(c.re).FindAllString(mainTF, -1)); n != c.want {
			t.Errorf("%s: %d matches of %s in main.tf, want %d", c.what, n, c.re, c.want)
		}
	}
}

// tfBlock returns the body of the top-level Terraform block that header
// opens, up to the line "}" that closes it, or "" when src has none.
func tfBlock(src, header string) string {
	_, rest, ok := strings.Cut(src, "\n"+header+" {\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n}\n")
	return body
}

// driveEveryPath runs the launcher against the fake through each path that
// calls AWS and returns the fake with the calls it recorded.
func driveEveryPath(t *testing.T) *awsfake.Server {
	t.Helper()
	srv := awsfake.Start(t)
	logs := awsfake.NewLogs(srv)
	fake := awsfake.NewECS(srv, logs)
	ctx := t.Context()
	l := iamLauncher(t, srv)
	start := func(l *ecs.Launcher, j launch.Job, s launch.LogSink) launch.Handle {
		t.Helper()
		h, err := l.Start(ctx, j, s)
		if err != nil {
			t.Fatalf("Start %s: %v", j.RunID, err)
		}
		return h
	}
	expect := func(h launch.Handle, kind launch.OutcomeKind) {
		t.Helper()
		if out := wait(t, h); out.Kind != kind {
			t.Errorf("%s: outcome = %+v, want %s", h.InfrastructureID(), out, kind)
		}
	}

	// A new task definition is looked up, then registered; RunTask fails
	// without an answer (every SDK attempt), so the launcher looks for
	// the task with ListTasks before it runs it again. The run's log is
	// read and its end polled.
	srv.Inject(awsfake.Fault{Target: awsfake.TargetRunTask, Times: iamMaxAttempts,
		Err: &awsfake.APIError{Status: 500, Type: "ServerException", Message: "try again"}})
	var out sink
	first := start(l, job("run-new"), &out)
	task := taskOf(fake, first.InfrastructureID())
	logs.Append(task.LogGroup, task.LogStream, "hello")
	waitFor(t, "log line", func() bool { return len(out.output()) == 1 })
	if err := fake.Exit(task.ARN, 0); err != nil {
		t.Fatal(err)
	}
	expect(first, launch.OutcomeSucceeded)

	// The task definition is reused; cancel and timeout stop the task.
	cancelled := start(l, job("run-cancel"), &sink{})
	if err := cancelled.Cancel(ctx, "user asked"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	expect(cancelled, launch.OutcomeCancelled)
	j := job("run-timeout")
	j.Timeout = 50 * time.Millisecond
	expect(start(l, j, &sink{}), launch.OutcomeTimedOut)

	// A pool that names an existing task definition by ARN runs it as is.
	j = job("run-existing")
	j.Variables = fmt.Sprintf(`{"task_definition":%q}`, task.TaskDefinition)
	existing := start(l, j, &sink{})
	ended := start(l, job("run-ended"), &sink{})

	// A restarted agent finds its tasks, adopts the one still leased to it
	// (reading its task definition for where its log goes) and removes the
	// one whose run ended while it was down.
	restarted := iamLauncher(t, srv)
	survivors, err := restarted.Survivors(ctx)
	if err != nil {
		t.Fatalf("Survivors: %v", err)
	}
	var adopted launch.Handle
	for _, s := range survivors {
		switch {
		case s.RunID == "run-existing" && !s.Ended:
			if adopted, err = restarted.Adopt(ctx, s, &sink{}); err != nil {
				t.Fatalf("Adopt: %v", err)
			}
		case s.RunID == "run-ended" && !s.Ended:
			if err := restarted.Remove(ctx, s.InfrastructureID); err != nil {
				t.Fatalf("Remove: %v", err)
			}
		}
	}
	if adopted == nil {
		t.Fatalf("Survivors = %+v, want run-existing running", survivors)
	}
	// A launcher that has not listed the survivors reads the task before
	// it removes it.
	if err := iamLauncher(t, srv).Remove(ctx, first.InfrastructureID()); err != nil {
		t.Fatalf("Remove of a stopped task: %v", err)
	}
	// The first agent sees the task stopped by its SIGTERM.
	expect(ended, launch.OutcomeFailed)
	if err := fake.Exit(existing.InfrastructureID(), 0); err != nil {
		t.Fatal(err)
	}
	expect(existing, launch.OutcomeSucceeded)
	expect(adopted, launch.OutcomeSucceeded)

	// The restarted agent finds the task definition registered before.
	reused := start(restarted, job("run-reused"), &sink{})
	if err := reused.Cancel(ctx, "test over"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	expect(reused, launch.OutcomeCancelled)

	if n := len(srv.Calls(awsfake.TargetRegisterTaskDefinition)); n != 1 {
		t.Errorf("RegisterTaskDefinition calls = %d, want 1: every job but run-existing has the same task definition", n)
	}
	if bad := srv.InvalidRequests(); len(bad) != 0 {
		t.Errorf("the launcher sent %d requests the real API would refuse: %+v", len(bad), bad)
	}
	return srv
}

// iamMaxAttempts bounds the SDK's attempts per call of [iamLauncher], so a
// fault of that many calls fails one launcher call.
const iamMaxAttempts = 2

// iamLauncher returns a launcher of agent "agent-iam" whose settings match
// [policyVars].
func iamLauncher(t *testing.T, srv *awsfake.Server) *ecs.Launcher {
	t.Helper()
	tc := taskConfig()
	tc.Cluster = policyVars["cluster_name"]
	tc.LogGroup = policyVars["log_group"]
	tc.TaskRoleARN = policyVars["task_role_arn"]
	tc.ExecutionRoleARN = policyVars["execution_role_arn"]
	l, err := ecs.New(ecs.Config{
		AWS:          srv.Config(),
		AccountID:    awsfake.AccountID,
		Task:         tc,
		AgentName:    "agent-iam",
		PollInterval: 10 * time.Millisecond,
		LogInterval:  10 * time.Millisecond,
		CallTimeout:  5 * time.Second,
		MaxAttempts:  iamMaxAttempts,
		MaxBackoff:   time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// iamRequest is one authorization AWS makes for a call: an action on a
// resource, with the values of the condition keys the call sets.
type iamRequest struct {
	action   string
	resource string
	context  map[string]string
	// call is the operation the request comes from, for messages.
	call string
}

// Target prefixes of the services the launcher calls, and their IAM
// service prefixes.
var servicePrefixes = map[string]string{
	"AmazonEC2ContainerServiceV20141113": "ecs",
	"Logs_20140328":                      "logs",
}

// iamRequests returns the requests AWS authorizes for call: first the one
// of its own action, then those it implies (tagging on create, passing
// roles).
func iamRequests(t *testing.T, call awsfake.Call) []iamRequest {
	t.Helper()
	prefix, op, _ := strings.Cut(call.Target, ".")
	svc, ok := servicePrefixes[prefix]
	if !ok {
		t.Fatalf("the launcher called %s, a service the test does not map to IAM", call.Target)
	}
	var body struct {
		Cluster          string
		Tasks            []string
		Task             string
		TaskDefinition   string
		TaskRoleArn      string
		ExecutionRoleArn string
		Family           string
		Tags             []struct{ Key, Value string }
		LogGroupName     string
		LogStreamName    string
	}
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatalf("decode %s body: %v", call.Target, err)
	}
	arnECS := "arn:aws:ecs:" + call.Region + ":" + awsfake.AccountID + ":"
	clusterName := body.Cluster
	if _, rest, ok := strings.Cut(body.Cluster, ":cluster/"); ok {
		clusterName = rest
	}
	clusterCtx := map[string]string{"ecs:cluster": arnECS + "cluster/" + clusterName}
	taskARN := func(ref string) string {
		if strings.HasPrefix(ref, "arn:") {
			return ref
		}
		return arnECS + "task/" + clusterName + "/" + ref
	}
	req := func(action, resource string, context map[string]string) iamRequest {
		return iamRequest{action: action, resource: resource, context: context, call: op}
	}

	action := svc + ":" + op
	var out []iamRequest
	switch call.Target {
	case awsfake.TargetRegisterTaskDefinition:
		out = append(out, req(action, "*", nil))
		if len(body.Tags) > 0 {
			// The revision is ECS's to choose; the first stands for any.
			out = append(out, req("ecs:TagResource", arnECS+"task-definition/"+body.Family+":1",
				map[string]string{"ecs:CreateAction": op}))
		}
		for _, role := range []string{body.TaskRoleArn, body.ExecutionRoleArn} {
			if role != "" {
				out = append(out, req("iam:PassRole", role,
					map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
			}
		}
	case awsfake.TargetDescribeTaskDefinition:
		out = append(out, req(action, "*", nil))
	case awsfake.TargetRunTask:
		td := body.TaskDefinition
		if !strings.HasPrefix(td, "arn:") {
			td = arnECS + "task-definition/" + td
		}
		out = append(out, req(action, td, clusterCtx))
		if len(body.Tags) > 0 {
			// The task's id is ECS's to choose.
			out = append(out, req("ecs:TagResource", taskARN("0123456789abcdef0123456789abcdef"),
				map[string]string{"ecs:CreateAction": op}))
		}
	case awsfake.TargetDescribeTasks:
		for _, task := range body.Tasks {
			out = append(out, req(action, taskARN(task), clusterCtx))
		}
	case awsfake.TargetStopTask:
		out = append(out, req(action, taskARN(body.Task), clusterCtx))
	case awsfake.TargetListTasks:
		out = append(out, req(action, "*", clusterCtx))
	case awsfake.TargetGetLogEvents:
		out = append(out, req(action, fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s",
			call.Region, awsfake.AccountID, body.LogGroupName, body.LogStreamName), nil))
	default:
		t.Fatalf("the launcher called %s, an operation the test does not map to IAM requests", call.Target)
	}
	if len(out) == 0 {
		t.Fatalf("%s maps to no IAM request", call.Target)
	}
	return out
}

// iamPolicy is an IAM policy document as far as the agent's policy uses it;
// decoding refuses any other element (NotAction, NotResource, Principal).
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid       string
	Effect    string
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

// stringList is an IAM policy value that is one string or a list of them.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// loadPolicy reads the policy template and returns it as written and with
// its placeholders filled from [policyVars], each checked to be a valid
// policy of version 2012-10-17 that only allows.
func loadPolicy(t *testing.T) (raw, rendered iamPolicy) {
	t.Helper()
	text := readFile(t, policyFile)
	if strings.Contains(text, "$${") || strings.Contains(text, "%{") {
		t.Fatal("the policy uses templatefile escapes or directives, which this test does not render")
	}
	filled := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(text, func(p string) string {
		v, ok := policyVars[p[2:len(p)-1]]
		if !ok {
			t.Fatalf("the policy has placeholder %s, which the test gives no value", p)
		}
		return v
	})
	for name := range policyVars {
		if !strings.Contains(text, "${"+name+"}") {
			t.Errorf("the policy has no placeholder ${%s}", name)
		}
	}
	return decodePolicy(t, "template", text), decodePolicy(t, "rendered", filled)
}

func decodePolicy(t *testing.T, what, text string) iamPolicy {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var p iamPolicy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s policy is not a policy document this test understands: %v", what, err)
	}
	if dec.More() {
		t.Fatalf("%s policy has data after the document", what)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("%s policy Version = %q, want 2012-10-17", what, p.Version)
	}
	if len(p.Statement) == 0 {
		t.Fatalf("%s policy has no statement", what)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" || len(s.Action) == 0 || len(s.Resource) == 0 {
			t.Fatalf("%s policy statement %d (%s) is not an Allow with actions and resources", what, i, s.Sid)
		}
	}
	return p
}

// checkScoping checks the statements of the policy template: no wildcard
// action; Resource "*" only for actions without resource-level
// permissions; every other resource scoped by a placeholder of the pool,
// in the template's region and account; and the conditions that bound
// what the resource cannot.
func checkScoping(t *testing.T, p iamPolicy) {
	t.Helper()
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if strings.ContainsAny(a, "*?") {
				t.Errorf("statement %s grants the wildcard action %q", s.Sid, a)
				continue
			}
			scope, ok := actionScopes[a]
			if !ok {
				t.Errorf("statement %s grants %s, whose scope the test does not know", s.Sid, a)
				continue
			}
			for _, r := range s.Resource {
				switch {
				case r == "*":
					if !noResourceLevel[a] {
						t.Errorf("statement %s grants %s on every resource; scope it to the pool", s.Sid, a)
					}
				case !slices.ContainsFunc(scope.resources, func(ph string) bool { return strings.Contains(r, ph) }):
					t.Errorf("statement %s grants %s on %s, which none of %v scopes", s.Sid, a, r, scope.resources)
				case strings.HasPrefix(r, "arn:") && !strings.Contains(r, ":${region}:${account_id}:"):
					t.Errorf("statement %s grants %s on %s, outside the template's region and account", s.Sid, a, r)
				}
			}
			for key, ph := range scope.conditions {
				if !conditionNames(s, key, ph) {
					t.Errorf("statement %s grants %s without a condition on %s naming %q", s.Sid, a, key, ph)
				}
			}
		}
	}
}

// conditionNames reports whether s has a condition on key whose every
// value contains ph.
func conditionNames(s iamStatement, key, ph string) bool {
	for _, keys := range s.Condition {
		if values, ok := keys[key]; ok && len(values) > 0 &&
			!slices.ContainsFunc(values, func(v string) bool { return !strings.Contains(v, ph) }) {
			return true
		}
	}
	return false
}

// actions returns every action some statement names.
func (p iamPolicy) actions() map[string]bool {
	out := map[string]bool{}
	for _, s := range p.Statement {
		for _, a := range s.Action {
			out[a] = true
		}
	}
	return out
}

// allows reports whether some statement of p allows r. Every statement
// allows (see [decodePolicy]), so no statement can deny. A condition on a
// key r does not set fails, as in IAM.
func (p iamPolicy) allows(t *testing.T, r iamRequest) bool {
	t.Helper()
	for _, s := range p.Statement {
		if !slices.ContainsFunc(s.Action, func(a string) bool {
			return globMatch(strings.ToLower(a), strings.ToLower(r.action))
		}) {
			continue
		}
		if !slices.ContainsFunc(s.Resource, func(pat string) bool { return globMatch(pat, r.resource) }) {
			continue
		}
		if conditionsHold(t, s, r) {
			return true
		}
	}
	return false
}

func conditionsHold(t *testing.T, s iamStatement, r iamRequest) bool {
	t.Helper()
	for op, keys := range s.Condition {
		var match func(pattern, value string) bool
		switch op {
		case "StringEquals", "ArnEquals":
			match = func(pattern, value string) bool { return pattern == value }
		case "StringLike", "ArnLike":
			match = globMatch
		default:
			t.Fatalf("statement %s uses condition operator %s, which the test does not evaluate", s.Sid, op)
		}
		for key, values := range keys {
			v, ok := r.context[key]
			if !ok || !slices.ContainsFunc(values, func(pattern string) bool { return match(pattern, v) }) {
				return false
			}
		}
	}
	return true
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters and '?' any one character, as in IAM resources.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}
