package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// reasonLabel shortens a wait reason code for a table: "CONCURRENCY_LIMIT".
func reasonLabel(c ferryv1.WaitReasonCode) string {
	return strings.TrimPrefix(c.String(), "WAIT_REASON_CODE_")
}

func runExplain(ctx context.Context, env Env, args []string) error {
	f := newFlags("run explain", "ID",
		"Say why a run is not running: not due yet, a paused pool, queue or deployment,\n"+
			"no agent online, a full concurrency limit and the runs holding it, runs ahead\n"+
			"of it, an offer not yet claimed, or a policy denial.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	pos, err := f.parse(env, args, "ID")
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
	resp, err := unary(ctx, c, "explain run", c.runs.ExplainRun, &ferryv1.ExplainRunRequest{Id: pos[0]})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp)
	}
	fm := newFormatter(env)
	r := resp.GetRun()
	fmt.Fprintf(env.Stdout, "Run %s of %s is %s.\n", r.GetId(), clean(r.GetDeployment()), stateWithName(r))
	if len(resp.GetReasons()) == 0 {
		fmt.Fprintln(env.Stdout, "Nothing holds it back: the dispatcher offers it at its next round.")
		return nil
	}
	rows := make([][]string, 0, len(resp.GetReasons()))
	for _, w := range resp.GetReasons() {
		var detail []string
		if w.GetLimit() != "" {
			detail = append(detail, "limit "+clean(w.GetLimit()))
		}
		if ids := w.GetHoldingRunIds(); len(ids) > 0 {
			detail = append(detail, "held by "+strings.Join(ids, ", "))
		}
		if w.GetRunsAhead() > 0 {
			detail = append(detail, strconv.Itoa(int(w.GetRunsAhead()))+" runs ahead")
		}
		if w.GetAgentId() != "" {
			detail = append(detail, "agent "+w.GetAgentId())
		}
		if w.GetUntil() != nil {
			detail = append(detail, "until "+fm.timestamp(w.GetUntil()))
		}
		rows = append(rows, []string{reasonLabel(w.GetCode()), clean(w.GetMessage()), orDash(strings.Join(detail, "; "))})
	}
	return writeTable(env.Stdout, []string{"REASON", "MESSAGE", "DETAIL"}, rows)
}

func limitApply(ctx context.Context, env Env, args []string) error {
	f := newFlags("limit apply", "NAME",
		"Create or update a named concurrency limit. A run counts against it when it\n"+
			"carries every --tag, or when its deployment lists the limit under limits.")
	conn := addConnFlags(f)
	slots := f.Int("slots", 1, "how many runs may be active at once (at least 1)")
	var tags stringList
	f.Var(&tags, "tag", "a `tag` runs must carry to count against the limit (repeatable)")
	desc := f.String("description", "", "what the limit protects")
	pos, err := f.parse(env, args, "NAME")
	if err != nil {
		return err
	}
	if *slots < 1 {
		return f.usageErr("--slots must be at least 1")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "apply concurrency limit", c.limits.ApplyConcurrencyLimit, &ferryv1.ApplyConcurrencyLimitRequest{
		Name: pos[0], Slots: int32(*slots), Tags: tags, Description: *desc,
	})
	if err != nil {
		return err
	}
	l := resp.GetLimit()
	fmt.Fprintf(env.Stdout, "concurrency limit %s: %d slots, tags %s\n", clean(l.GetName()), l.GetSlots(),
		orDash(strings.Join(l.GetTags(), ", ")))
	return nil
}

func limitList(ctx context.Context, env Env, args []string) error {
	f := newFlags("limit ls", "", "List the named concurrency limits with the runs holding their slots.")
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
	resp, err := unary(ctx, c, "list concurrency limits", c.limits.ListConcurrencyLimits, &ferryv1.ListConcurrencyLimitsRequest{})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetLimits()...)
	}
	rows := make([][]string, 0, len(resp.GetLimits()))
	for _, l := range resp.GetLimits() {
		rows = append(rows, []string{
			clean(l.GetName()), fmt.Sprintf("%d/%d", len(l.GetActiveRunIds()), l.GetSlots()),
			orDash(strings.Join(l.GetTags(), ", ")), orDash(strings.Join(l.GetActiveRunIds(), ", ")),
		})
	}
	return writeTable(env.Stdout, []string{"NAME", "ACTIVE", "TAGS", "HELD BY"}, rows)
}

func limitRemove(ctx context.Context, env Env, args []string) error {
	f := newFlags("limit rm", "NAME", "Delete a named concurrency limit; the runs it held back may start.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "NAME")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if _, err := unary(ctx, c, "delete concurrency limit", c.limits.DeleteConcurrencyLimit,
		&ferryv1.DeleteConcurrencyLimitRequest{Name: pos[0]}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "concurrency limit %s deleted\n", pos[0])
	return nil
}

// pauseCommand returns the Run of "ferry KIND pause|resume": kind is
// deployment, pool or queue (which takes POOL QUEUE).
func pauseCommand(kind string, pause bool) func(context.Context, Env, []string) error {
	verb := "pause"
	if !pause {
		verb = "resume"
	}
	return func(ctx context.Context, env Env, args []string) error {
		want := []string{"NAME"}
		if kind == "queue" {
			want = []string{"POOL", "QUEUE"}
		}
		what := "stop offering its runs to agents; runs already claimed carry on."
		if !pause {
			what = "offer its waiting runs to agents again."
		}
		f := newFlags(kind+" "+verb, strings.Join(want, " "), strings.ToUpper(verb[:1])+verb[1:]+" a "+kind+": "+what)
		conn := addConnFlags(f)
		pos, err := f.parse(env, args, want...)
		if err != nil {
			return err
		}
		target := &ferryv1.PauseTarget{}
		switch kind {
		case "deployment":
			target.Deployment = pos[0]
		case "pool":
			target.Pool = pos[0]
		default:
			target.Pool, target.Queue = pos[0], pos[1]
		}
		c, err := conn.dial(env)
		if err != nil {
			return err
		}
		name := strings.Join(pos, "/")
		var changed bool
		if pause {
			resp, err := unary(ctx, c, verb+" "+kind, c.pause.Pause, &ferryv1.PauseRequest{Target: target})
			if err != nil {
				return err
			}
			changed = resp.GetChanged()
		} else {
			resp, err := unary(ctx, c, verb+" "+kind, c.pause.Resume, &ferryv1.ResumeRequest{Target: target})
			if err != nil {
				return err
			}
			changed = resp.GetChanged()
		}
		state := map[bool]string{true: "paused", false: "resumed"}[pause]
		if !changed {
			fmt.Fprintf(env.Stdout, "%s %s was already %s\n", kind, name, map[bool]string{true: "paused", false: "running"}[pause])
			return nil
		}
		fmt.Fprintf(env.Stdout, "%s %s %s\n", kind, name, state)
		return nil
	}
}
