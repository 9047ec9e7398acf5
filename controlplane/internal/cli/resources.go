package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// poolTypeLabel is the short name of a pool type: "docker".
func poolTypeLabel(t ferryv1.WorkPoolType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "WORK_POOL_TYPE_"))
}

// limitLabel renders a concurrency limit, where 0 means none.
func limitLabel(n int32) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(int(n))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func poolList(ctx context.Context, env Env, args []string) error {
	f := newFlags("pool ls", "", "List work pools.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list work pools", c.pools.ListWorkPools, &ferryv1.ListWorkPoolsRequest{})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetWorkPools()...)
	}
	rows := make([][]string, 0, len(resp.GetWorkPools()))
	for _, p := range resp.GetWorkPools() {
		rows = append(rows, []string{
			clean(p.GetName()), poolTypeLabel(p.GetType()), yesNo(p.GetPaused()),
			limitLabel(p.GetConcurrencyLimit()), orDash(p.GetDescription()),
		})
	}
	return writeTable(env.Stdout, []string{"NAME", "TYPE", "PAUSED", "LIMIT", "DESCRIPTION"}, rows)
}

func deploymentList(ctx context.Context, env Env, args []string) error {
	f := newFlags("deployment ls", "", "List deployments, every page of them.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pool := f.String("pool", "", "only deployments of this work `pool`")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	var all []*ferryv1.Deployment
	req := &ferryv1.ListDeploymentsRequest{Pool: *pool}
	seen := map[string]bool{}
	for {
		resp, err := unary(ctx, c, "list deployments", c.deployments.ListDeployments, req)
		if err != nil {
			return err
		}
		all = append(all, resp.GetDeployments()...)
		next := resp.GetNextPageToken()
		if next == "" {
			break
		}
		if seen[next] {
			return fmt.Errorf("list deployments: the server repeated page token %q", next)
		}
		seen[next] = true
		req.PageToken = next
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, all...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(all))
	for _, d := range all {
		rows = append(rows, []string{
			clean(d.GetName()), strconv.Itoa(int(d.GetVersion())), clean(d.GetSpec().GetPool()),
			orDash(d.GetSpec().GetQueue()), yesNo(d.GetPaused()), fm.timestamp(d.GetUpdateTime()),
			orDash(d.GetSpec().GetDescription()),
		})
	}
	return writeTable(env.Stdout, []string{"NAME", "VERSION", "POOL", "QUEUE", "PAUSED", "UPDATED", "DESCRIPTION"}, rows)
}

func deploymentGet(ctx context.Context, env Env, args []string) error {
	f := newFlags("deployment get", "NAME", "Show a deployment and its current version.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pos, err := f.parse(env, args, "NAME")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "get deployment", c.deployments.GetDeployment, &ferryv1.GetDeploymentRequest{Name: pos[0]})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetDeployment())
	}
	return writeFields(env.Stdout, deploymentFields(newFormatter(env), resp.GetDeployment()))
}

// deploymentFields lists a deployment for people.
func deploymentFields(fm formatter, d *ferryv1.Deployment) []field {
	s := d.GetSpec()
	command, _ := json.Marshal(s.GetCommand())
	envNames := make([]string, 0, len(s.GetEnv()))
	for k := range s.GetEnv() {
		envNames = append(envNames, k)
	}
	sort.Strings(envNames)
	retry := "none"
	if r := s.GetRetry(); r != nil {
		on := make([]string, 0, len(r.GetOn()))
		for _, c := range r.GetOn() {
			on = append(on, strings.ToLower(strings.TrimPrefix(c.String(), "RETRY_CONDITION_")))
		}
		if len(on) == 0 {
			on = append(on, "any failure")
		}
		retry = fmt.Sprintf("%d retries, delay %s, on %s", r.GetRetries(), protoDuration(r.GetDelay()), strings.Join(on, ", "))
	}
	return []field{
		{"Name", clean(d.GetName())},
		{"ID", d.GetId()},
		{"Version", strconv.Itoa(int(d.GetVersion()))},
		{"Pool / queue", clean(s.GetPool()) + " / " + orDash(s.GetQueue())},
		{"Paused", yesNo(d.GetPaused())},
		{"Description", orDash(s.GetDescription())},
		{"Command", clean(string(command))},
		{"Working dir", orDash(s.GetWorkingDir())},
		{"Image", orDash(s.GetImage())},
		// Environment values may hold secret references; names are enough here
		// and --output json shows everything.
		{"Env", orDash(strings.Join(envNames, ", "))},
		{"Parameters schema", orDash(s.GetParametersSchema())},
		{"Default parameters", orDash(s.GetDefaultParameters())},
		{"Timeout", protoDuration(s.GetTimeout())},
		{"Retry", retry},
		{"Tags", orDash(strings.Join(s.GetTags(), ", "))},
		{"Priority", strconv.Itoa(int(s.GetPriority()))},
		{"Created", fm.timestamp(d.GetCreateTime())},
		{"Updated", fm.timestamp(d.GetUpdateTime())},
	}
}

func agentList(ctx context.Context, env Env, args []string) error {
	f := newFlags("agent ls", "", "List the agents registered to a work pool.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pool := f.String("pool", "", "the work `pool` (required)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *pool == "" {
		return f.usageErr("--pool is required")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list agents", c.pools.ListAgents, &ferryv1.ListAgentsRequest{Pool: *pool})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetAgents()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetAgents()))
	for _, a := range resp.GetAgents() {
		status := "offline"
		switch {
		case a.GetOnline() && a.GetDrainRequested():
			status = "draining (requested)"
		case a.GetOnline() && a.GetDraining():
			status = "draining"
		case a.GetOnline():
			status = "online"
		case a.GetDrainRequested():
			status = "offline (drain requested)"
		}
		rows = append(rows, []string{
			clean(a.GetName()), a.GetId(), status,
			fmt.Sprintf("%d/%d", a.GetActiveRuns(), a.GetCapacity()), orDash(a.GetVersion()),
			fm.timestamp(a.GetLastHeartbeatTime()),
		})
	}
	return writeTable(env.Stdout, []string{"NAME", "ID", "STATUS", "RUNS", "VERSION", "LAST HEARTBEAT"}, rows)
}

// agentDrainCommand returns the Run of "ferry agent drain|undrain NAME
// --pool POOL".
func agentDrainCommand(drain bool) func(context.Context, Env, []string) error {
	verb, what := "drain", "Ask an agent to drain: it is offered no new runs, and the runs it holds carry on. "+
		"The request lasts until 'ferry agent undrain'."
	if !drain {
		verb, what = "undrain", "Lift an operator's drain request, so the agent is offered runs again. "+
			"An agent that is shutting down stays draining."
	}
	return func(ctx context.Context, env Env, args []string) error {
		f := newFlags("agent "+verb, "NAME", what)
		conn := addConnFlags(f)
		pool := f.String("pool", "", "the work `pool` the agent is registered to (required)")
		pos, err := f.parse(env, args, "NAME")
		if err != nil {
			return err
		}
		if *pool == "" {
			return f.usageErr("--pool is required")
		}
		c, err := conn.dial(env)
		if err != nil {
			return err
		}
		var (
			agent   *ferryv1.Agent
			changed bool
		)
		if drain {
			resp, err := unary(ctx, c, "drain agent", c.pools.DrainAgent,
				&ferryv1.DrainAgentRequest{Pool: *pool, Name: pos[0]})
			if err != nil {
				return err
			}
			agent, changed = resp.GetAgent(), resp.GetChanged()
		} else {
			resp, err := unary(ctx, c, "undrain agent", c.pools.UndrainAgent,
				&ferryv1.UndrainAgentRequest{Pool: *pool, Name: pos[0]})
			if err != nil {
				return err
			}
			agent, changed = resp.GetAgent(), resp.GetChanged()
		}
		name := clean(*pool) + "/" + clean(pos[0])
		switch {
		case drain && !changed:
			fmt.Fprintf(env.Stdout, "agent %s was already asked to drain\n", name)
		case drain:
			fmt.Fprintf(env.Stdout, "agent %s is draining: no new runs; %d active runs carry on\n",
				name, agent.GetActiveRuns())
		case !changed:
			fmt.Fprintf(env.Stdout, "agent %s had no drain request\n", name)
		case agent.GetDraining():
			fmt.Fprintf(env.Stdout, "drain request of agent %s lifted; the agent still drains as it shuts down\n", name)
		default:
			fmt.Fprintf(env.Stdout, "agent %s undrained: it is offered runs again\n", name)
		}
		return nil
	}
}

func agentTokenCreate(ctx context.Context, env Env, args []string) error {
	f := newFlags("agent token create", "",
		"Issue a token an agent of the pool authenticates with. The secret is shown once.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pool := f.String("pool", "", "the work `pool` the token is bound to (required)")
	name := f.String("name", "", "a `name` for the token, unique in the pool (required)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *pool == "" || *name == "" {
		return f.usageErr("--pool and --name are required")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "create agent token", c.tokens.CreateAgentToken,
		&ferryv1.CreateAgentTokenRequest{Pool: *pool, Name: *name})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		b, err := json.Marshal(struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}{resp.GetToken().GetId(), resp.GetSecret()})
		if err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(env.Stderr, "Created agent token %q (id %s) for pool %q.\n", *name, resp.GetToken().GetId(), *pool)
	fmt.Fprintf(env.Stderr, "Store the secret below now, in your agent's configuration or a secret manager: it is not shown again.\n")
	fmt.Fprintln(env.Stdout, resp.GetSecret())
	return nil
}

func agentTokenList(ctx context.Context, env Env, args []string) error {
	f := newFlags("agent token ls", "", "List the agent tokens of a work pool (never their secrets).")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pool := f.String("pool", "", "the work `pool` (required)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *pool == "" {
		return f.usageErr("--pool is required")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list agent tokens", c.tokens.ListAgentTokens, &ferryv1.ListAgentTokensRequest{Pool: *pool})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetTokens()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetTokens()))
	for _, t := range resp.GetTokens() {
		revoked := "-"
		if t.GetRevokeTime() != nil {
			revoked = fm.timestamp(t.GetRevokeTime())
		}
		rows = append(rows, []string{
			t.GetId(), clean(t.GetName()), orDash(t.GetPrefix()), fm.timestamp(t.GetCreateTime()),
			fm.timestamp(t.GetLastUseTime()), revoked,
		})
	}
	return writeTable(env.Stdout, []string{"ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED"}, rows)
}

func agentTokenRevoke(ctx context.Context, env Env, args []string) error {
	f := newFlags("agent token revoke", "ID",
		"Revoke an agent token; agents using it are refused from their next call.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if _, err := unary(ctx, c, "revoke agent token", c.tokens.RevokeAgentToken,
		&ferryv1.RevokeAgentTokenRequest{Id: pos[0]}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "agent token %s revoked\n", pos[0])
	return nil
}
