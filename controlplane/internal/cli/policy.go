package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// maxPolicyFileBytes caps a Rego file or input file read by the policy
// commands; the server accepts 64 KiB of either.
const maxPolicyFileBytes = 64 << 10

// policyKindFlag registers --kind on f.
func policyKindFlag(f *commandFlags, def string) *string {
	return f.String("kind", def, "policy kind: authz (who may call what) or admission (what a deployment may contain)")
}

// parsePolicyKind converts the --kind value; empty is allowed only when
// optional.
func parsePolicyKind(f *commandFlags, kind string, optional bool) (ferryv1.PolicyKind, error) {
	switch kind {
	case "authz":
		return ferryv1.PolicyKind_POLICY_KIND_AUTHZ, nil
	case "admission":
		return ferryv1.PolicyKind_POLICY_KIND_ADMISSION, nil
	case "":
		if optional {
			return ferryv1.PolicyKind_POLICY_KIND_UNSPECIFIED, nil
		}
		return 0, f.usageErr("--kind is required: authz or admission")
	}
	return 0, f.usageErr("--kind must be authz or admission, not %q", kind)
}

func policyKindLabel(k ferryv1.PolicyKind) string {
	switch k {
	case ferryv1.PolicyKind_POLICY_KIND_AUTHZ:
		return "authz"
	case ferryv1.PolicyKind_POLICY_KIND_ADMISSION:
		return "admission"
	}
	return "-"
}

// readPolicyFile reads a file of at most maxPolicyFileBytes.
func readPolicyFile(path, what string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	if len(data) > maxPolicyFileBytes {
		return "", fmt.Errorf("%s %s is larger than %d bytes", what, path, maxPolicyFileBytes)
	}
	return string(data), nil
}

// policyNameFromFile derives a policy name from a file name:
// "no-friday.rego" is "no-friday".
func policyNameFromFile(path string) string {
	return strings.ToLower(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
}

// withPolicyProblems rewrites a compile error so that each problem points
// at the local file, as editors and compilers print positions:
// "FILE:LINE:COL: message".
func withPolicyProblems(err error, name, file string) error {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		return err
	}
	var lines []string
	for _, d := range ce.Details() {
		v, derr := d.Value()
		problems, ok := v.(*ferryv1.PolicyProblems)
		if derr != nil || !ok {
			continue
		}
		for _, p := range problems.GetProblems() {
			where := clean(p.GetFile())
			if where == "workspace/"+name+".rego" {
				where = file
			}
			if p.GetLine() > 0 {
				where = fmt.Sprintf("%s:%d:%d", where, p.GetLine(), p.GetColumn())
			}
			lines = append(lines, fmt.Sprintf("%s: %s", where, clean(p.GetMessage())))
		}
	}
	if len(lines) == 0 {
		return err
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%s does not compile:\n%s", file, strings.Join(lines, "\n"))}
}

func policyTest(ctx context.Context, env Env, args []string) error {
	f := newFlags("policy test", "FILE",
		"Evaluate an input against the built-in policy, the workspace's active policies and the\n"+
			"Rego in FILE (standing for the policy of the same name, which it replaces if active),\n"+
			"and explain the decision. Nothing is stored. With --expect, exit with status 1 when\n"+
			"the decision differs, for use in CI:\n\n"+
			"    ferry policy test no-friday.rego --input deploy.json --kind admission --expect deny")
	conn := addConnFlags(f)
	output := outputFlag(f)
	input := f.String("input", "", "`file` holding the JSON object the policy sees as input (required)")
	kind := policyKindFlag(f, "authz")
	name := f.String("name", "", "policy name FILE stands for (default: FILE's base name without .rego)")
	expect := f.String("expect", "", "allow or deny: fail unless the decision is this")
	trace := f.Bool("trace", false, "add OPA's evaluation trace to the explanation")
	pos, err := f.parse(env, args, "FILE")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	k, err := parsePolicyKind(f, *kind, false)
	if err != nil {
		return err
	}
	if *input == "" {
		return f.usageErr("--input is required")
	}
	if *expect != "" && *expect != "allow" && *expect != "deny" {
		return f.usageErr("--expect must be allow or deny, not %q", *expect)
	}
	if *name == "" {
		*name = policyNameFromFile(pos[0])
	}
	source, err := readPolicyFile(pos[0], "policy file")
	if err != nil {
		return err
	}
	inputJSON, err := readPolicyFile(*input, "input file")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}

	resp, err := unary(ctx, c, "dry-run policy", c.policies.DryRunPolicy, &ferryv1.DryRunPolicyRequest{
		Kind: k, InputJson: inputJSON, Name: *name, Source: source, Trace: *trace,
	})
	if err != nil {
		return withPolicyProblems(err, *name, pos[0])
	}
	if *output == outputJSON {
		if err := writeJSON(env.Stdout, resp); err != nil {
			return err
		}
	} else {
		writeDecision(env.Stdout, resp)
	}
	decision := "allow"
	if !resp.GetAllowed() {
		decision = "deny"
	}
	if *expect != "" && *expect != decision {
		return &ExitError{Code: 1, Err: fmt.Errorf("expected %s, got %s", *expect, decision)}
	}
	return nil
}

// writeDecision prints a dry run's decision for a person.
func writeDecision(w io.Writer, r *ferryv1.DryRunPolicyResponse) {
	if r.GetAllowed() {
		fmt.Fprintln(w, "ALLOWED")
	} else {
		fmt.Fprintln(w, "DENIED")
	}
	if len(r.GetModules()) > 0 {
		mods := make([]string, len(r.GetModules()))
		for i, m := range r.GetModules() {
			mods[i] = clean(m)
		}
		fmt.Fprintf(w, "workspace policies: %s\n", strings.Join(mods, ", "))
	}
	for _, l := range r.GetExplanation() {
		fmt.Fprintln(w, clean(l))
	}
}

func policyApply(ctx context.Context, env Env, args []string) error {
	f := newFlags("policy apply", "",
		"Upload a workspace policy from a Rego file and make it the active version. The file\n"+
			"must declare package ferry.authz.workspace (--kind authz) or\n"+
			"ferry.admission.workspace (--kind admission) and add messages to its deny set.\n"+
			"Applying the same file again changes nothing.")
	conn := addConnFlags(f)
	file := f.String("f", "", "`file` holding the Rego policy (required)")
	kind := policyKindFlag(f, "")
	name := f.String("name", "", "policy name (default: the file's base name without .rego)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if *file == "" {
		return f.usageErr("-f FILE is required")
	}
	k, err := parsePolicyKind(f, *kind, false)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = policyNameFromFile(*file)
	}
	source, err := readPolicyFile(*file, "policy file")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}

	up, err := unary(ctx, c, "upload policy", c.policies.UploadPolicy, &ferryv1.UploadPolicyRequest{
		Kind: k, Name: *name, Source: source,
	})
	if err != nil {
		return withPolicyProblems(err, *name, *file)
	}
	version := up.GetVersion().GetVersion()
	if !up.GetCreated() && up.GetPolicy().GetActiveVersion() == version {
		fmt.Fprintf(env.Stdout, "%s policy %s unchanged: version %d is active\n", *kind, clean(*name), version)
		return nil
	}
	if _, err := unary(ctx, c, "activate policy", c.policies.ActivatePolicyVersion, &ferryv1.ActivatePolicyVersionRequest{
		Kind: k, Name: *name, Version: version,
	}); err != nil {
		return withPolicyProblems(err, *name, *file)
	}
	fmt.Fprintf(env.Stdout, "%s policy %s: version %d is active\n", *kind, clean(*name), version)
	return nil
}

func policyList(ctx context.Context, env Env, args []string) error {
	f := newFlags("policy ls", "", "List the workspace's policies with their active and latest versions.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	kind := policyKindFlag(f, "")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	k, err := parsePolicyKind(f, *kind, true)
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list policies", c.policies.ListPolicies, &ferryv1.ListPoliciesRequest{Kind: k})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetPolicies()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetPolicies()))
	for _, p := range resp.GetPolicies() {
		active := "-"
		if p.GetActiveVersion() > 0 {
			active = fmt.Sprint(p.GetActiveVersion())
		}
		rows = append(rows, []string{
			policyKindLabel(p.GetKind()), clean(p.GetName()), active, fmt.Sprint(p.GetLatestVersion()),
			fm.timestamp(p.GetUpdateTime()),
		})
	}
	return writeTable(env.Stdout, []string{"KIND", "NAME", "ACTIVE", "LATEST", "UPDATED"}, rows)
}
