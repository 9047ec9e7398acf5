package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func runStart(ctx context.Context, env Env, args []string) error {
	f := newFlags("run start", "DEPLOYMENT",
		"Create a run of the deployment's current version and print its id. With --watch,\n"+
			"follow its state and logs until it ends; the exit status is then 0 for COMPLETED\n"+
			"and 1 for FAILED, CRASHED or CANCELLED.")
	conn := addConnFlags(f)
	var pairs, tags stringList
	f.Var(&pairs, "p", "parameter `key=value`, repeatable; the value is read as JSON when it is valid JSON, else as a string")
	paramsJSON := f.String("params-json", "", "parameters as a JSON `object`; -p values override its keys")
	idempotencyKey := f.String("idempotency-key", "", "a repeated start with the same `key` returns the first run instead of creating another")
	f.Var(&tags, "tag", "add `tag` to the run, repeatable")
	watch := f.Bool("watch", false, "follow the run's state and logs until it ends")
	pos, err := f.parse(env, args, "DEPLOYMENT")
	if err != nil {
		return err
	}
	params, err := buildParameters(*paramsJSON, pairs)
	if err != nil {
		return f.usageErr("%v", err)
	}

	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, fmt.Sprintf("start a run of %q", pos[0]), c.runs.CreateRun, &ferryv1.CreateRunRequest{
		Run: &ferryv1.RunTemplate{
			Deployment:     pos[0],
			Parameters:     params,
			IdempotencyKey: *idempotencyKey,
			Tags:           tags,
		},
	})
	if err != nil {
		return err
	}
	run := resp.GetRun()
	if !resp.GetCreated() {
		fmt.Fprintf(env.Stderr, "the idempotency key matched run %s, created %s; no new run was made\n",
			run.GetId(), newFormatter(env).timestamp(run.GetCreateTime()))
	}
	fmt.Fprintln(env.Stdout, run.GetId())
	if !*watch {
		return nil
	}
	return watchRun(ctx, env, c, run.GetId(), 0)
}

func runList(ctx context.Context, env Env, args []string) error {
	f := newFlags("run ls", "", "List runs, newest first.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	var states stringList
	f.Var(&states, "state", "only runs in this `state` (scheduled, pending, running, completed, failed, crashed, cancelling, cancelled), repeatable")
	deployment := f.String("deployment", "", "only runs of this `deployment`")
	since := f.String("since", "", "only runs created after this time: a duration back from now (`24h`) or an RFC 3339 time")
	until := f.String("until", "", "only runs created before this time: a duration back from now (`1h`) or an RFC 3339 time")
	var tags stringList
	f.Var(&tags, "tag", "only runs carrying this `tag` (their own or their deployment's), repeatable: runs must carry every one")
	late := f.Bool("late", false, "only runs that are Late: scheduled, and past their expected start")
	limit := f.Int("limit", 0, "at most `N` runs (1 to 1000; default: the server's page size, 50)")
	pageToken := f.String("page-token", "", "continue a listing where the previous page ended")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	req := &ferryv1.ListRunsRequest{Deployment: *deployment, PageToken: *pageToken, Tags: tags, Late: *late}
	for _, s := range states {
		state, err := parseRunState(s)
		if err != nil {
			return f.usageErr("%v", err)
		}
		req.States = append(req.States, state)
	}
	if *limit < 0 || *limit > 1000 {
		return f.usageErr("--limit must be between 1 and 1000")
	}
	req.PageSize = int32(*limit)
	fm := newFormatter(env)
	if *since != "" {
		t, err := parseSince(*since, fm.now())
		if err != nil {
			return f.usageErr("%v", err)
		}
		req.CreatedAfter = timestamppb.New(t)
	}
	if *until != "" {
		t, err := parseSince(*until, fm.now())
		if err != nil {
			return f.usageErr("%v", strings.Replace(err.Error(), "--since", "--until", 1))
		}
		req.CreatedBefore = timestamppb.New(t)
	}

	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list runs", c.runs.ListRuns, req)
	if err != nil {
		return err
	}
	if *output == outputJSON {
		err = writeJSON(env.Stdout, resp.GetRuns()...)
	} else {
		rows := make([][]string, 0, len(resp.GetRuns()))
		for _, r := range resp.GetRuns() {
			rows = append(rows, []string{
				r.GetId(), clean(r.GetDeployment()), stateWithName(r), attempts(r),
				fm.timestamp(r.GetCreateTime()), fm.runDuration(r),
			})
		}
		err = writeTable(env.Stdout, []string{"ID", "DEPLOYMENT", "STATE", "ATTEMPT", "CREATED", "DURATION"}, rows)
	}
	if err != nil {
		return err
	}
	if next := resp.GetNextPageToken(); next != "" {
		fmt.Fprintf(env.Stderr, "more runs: repeat with --page-token %s\n", next)
	}
	return nil
}

// parseRunState accepts "running", "RUNNING" or "RUN_STATE_RUNNING".
func parseRunState(s string) (ferryv1.RunState, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "RUN_STATE_") {
		name = "RUN_STATE_" + name
	}
	v, ok := ferryv1.RunState_value[name]
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown run state %q", s)
	}
	return ferryv1.RunState(v), nil
}

// parseSince reads --since: a positive duration back from now, or an RFC
// 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %q: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration such as 24h or a time such as 2024-05-01T00:00:00Z", s)
	}
	return t, nil
}

// attempts renders "2/3": the current attempt out of the most allowed.
func attempts(r *ferryv1.Run) string {
	if r.GetMaxAttempts() == 0 {
		return strconv.Itoa(int(r.GetAttempt()))
	}
	return fmt.Sprintf("%d/%d", r.GetAttempt(), r.GetMaxAttempts())
}

func runGet(ctx context.Context, env Env, args []string) error {
	f := newFlags("run get", "ID", "Show one run.")
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
	resp, err := unary(ctx, c, "get run", c.runs.GetRun, &ferryv1.GetRunRequest{Id: pos[0]})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetRun())
	}
	return writeFields(env.Stdout, runFields(newFormatter(env), resp.GetRun()))
}

// runFields lists a run for people.
func runFields(fm formatter, r *ferryv1.Run) []field {
	exit := "-"
	if r.ExitCode != nil {
		exit = strconv.Itoa(int(r.GetExitCode()))
	}
	return []field{
		{"ID", r.GetId()},
		{"Deployment", fmt.Sprintf("%s (version %d)", clean(r.GetDeployment()), r.GetDeploymentVersion())},
		{"Pool / queue", clean(r.GetPool()) + " / " + clean(r.GetQueue())},
		{"State", stateWithName(r)},
		{"Message", orDash(r.GetStateMessage())},
		{"Attempt", attempts(r)},
		{"Parameters", orDash(r.GetParameters())},
		{"Tags", orDash(strings.Join(r.GetTags(), ", "))},
		{"Priority", strconv.Itoa(int(r.GetPriority()))},
		{"Idempotency key", orDash(r.GetIdempotencyKey())},
		{"Created", fm.timestamp(r.GetCreateTime()) + " by " + orDash(r.GetCreatedBy())},
		{"Expected start", fm.timestamp(r.GetExpectedStartTime())},
		{"Started", fm.timestamp(r.GetStartTime())},
		{"Ended", fm.timestamp(r.GetEndTime())},
		{"Duration", fm.runDuration(r)},
		{"Agent", orDash(r.GetAgentId())},
		{"Infrastructure", orDash(r.GetInfrastructureId())},
		{"Exit code", exit},
	}
}

func runCancel(ctx context.Context, env Env, args []string) error {
	f := newFlags("run cancel", "ID",
		"Cancel a run: at once when it has not started, otherwise by asking its agent to stop it.")
	conn := addConnFlags(f)
	reason := f.String("reason", "", "why the run is cancelled, kept in its history")
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "cancel run", c.runs.CancelRun, &ferryv1.CancelRunRequest{Id: pos[0], Reason: *reason})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "run %s: %s\n", resp.GetRun().GetId(), stateWithName(resp.GetRun()))
	return nil
}

func runRetry(ctx context.Context, env Env, args []string) error {
	f := newFlags("run retry", "ID",
		"Start a new attempt of a failed, crashed or cancelled run. With --watch, follow it\n"+
			"to the end, as run start --watch does.")
	conn := addConnFlags(f)
	watch := f.Bool("watch", false, "follow the new attempt's state and logs until it ends")
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "retry run", c.runs.RetryRun, &ferryv1.RetryRunRequest{Id: pos[0]})
	if err != nil {
		return err
	}
	r := resp.GetRun()
	fmt.Fprintf(env.Stdout, "run %s: attempt %s, %s\n", r.GetId(), attempts(r), stateWithName(r))
	if !*watch {
		return nil
	}
	return watchRun(ctx, env, c, r.GetId(), r.GetAttempt())
}

func runHistory(ctx context.Context, env Env, args []string) error {
	f := newFlags("run history", "ID", "Show a run's state changes, oldest first.")
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
	resp, err := unary(ctx, c, "list run state changes", c.runs.ListRunStateChanges,
		&ferryv1.ListRunStateChangesRequest{Id: pos[0]})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetChanges()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetChanges()))
	for _, ch := range resp.GetChanges() {
		from := "-"
		if ch.GetFromState() != ferryv1.RunState_RUN_STATE_UNSPECIFIED {
			from = stateLabel(ch.GetFromState())
		}
		rows = append(rows, []string{
			fm.preciseTimestamp(ch.GetTime()), strconv.Itoa(int(ch.GetAttempt())), from,
			stateLabel(ch.GetToState()), orDash(ch.GetToName()), orDash(ch.GetActor()), orDash(ch.GetMessage()),
		})
	}
	return writeTable(env.Stdout, []string{"TIME", "ATTEMPT", "FROM", "TO", "NAME", "ACTOR", "MESSAGE"}, rows)
}
