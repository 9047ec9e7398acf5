package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// scheduleSpecFlags are the flags that describe a schedule on the command line.
type scheduleSpecFlags struct {
	cron, rrule, zone, anchor, paramsJSON, catchUp string
	interval, jitter, dropAfter                    time.Duration
	catchUpLimit                                   int
	paused                                         bool
	params                                         stringList
}

func addScheduleSpecFlags(f *commandFlags) *scheduleSpecFlags {
	s := &scheduleSpecFlags{}
	f.StringVar(&s.cron, "cron", "", "fire on a 5-field cron `expression` such as \"30 2 * * *\", or @hourly, @daily ...")
	f.DurationVar(&s.interval, "interval", 0, "fire every `duration` (such as 15m) from --anchor")
	f.StringVar(&s.rrule, "rrule", "", "fire on an RFC 5545 `rule` such as \"FREQ=WEEKLY;BYDAY=MO;BYHOUR=9\", from --anchor")
	f.StringVar(&s.zone, "zone", "", "IANA time `zone` the schedule is read in (default UTC)")
	f.StringVar(&s.anchor, "anchor", "", "first fire `time` of an interval, or DTSTART of a rule, in RFC 3339 (default: when first applied)")
	f.Var(&s.params, "p", "parameter `key=value` of the runs, repeatable; the value is read as JSON when it is valid JSON")
	f.StringVar(&s.paramsJSON, "params-json", "", "parameters of the runs as a JSON `object`; -p values override its keys")
	f.DurationVar(&s.jitter, "jitter", 0, "delay each run's start by up to this `duration`")
	f.StringVar(&s.catchUp, "catch-up", "skip", "`policy` for fire times missed while down or paused: skip, latest or all")
	f.IntVar(&s.catchUpLimit, "catch-up-limit", 0, "most missed runs created by --catch-up all (default 10)")
	f.DurationVar(&s.dropAfter, "drop-if-later-than", 0, "drop missed fire times older than this `duration`")
	f.BoolVar(&s.paused, "paused", false, "store the schedule paused")
	return s
}

// spec builds the request's spec from the flags.
func (s *scheduleSpecFlags) spec() (*ferryv1.ScheduleSpec, error) {
	out := &ferryv1.ScheduleSpec{Zone: s.zone, CatchUpLimit: int32(s.catchUpLimit)}
	kinds := 0
	if s.cron != "" {
		kinds++
		out.Kind, out.Expression = ferryv1.ScheduleKind_SCHEDULE_KIND_CRON, s.cron
	}
	if s.rrule != "" {
		kinds++
		out.Kind, out.Expression = ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE, s.rrule
	}
	if s.interval != 0 {
		kinds++
		out.Kind, out.Interval = ferryv1.ScheduleKind_SCHEDULE_KIND_INTERVAL, durationpb.New(s.interval)
	}
	if kinds != 1 {
		return nil, fmt.Errorf("give exactly one of --cron, --interval and --rrule")
	}
	if s.anchor != "" {
		t, err := time.Parse(time.RFC3339, s.anchor)
		if err != nil {
			return nil, fmt.Errorf("--anchor %q: want an RFC 3339 time such as 2025-01-01T00:00:00Z", s.anchor)
		}
		out.AnchorTime = timestamppb.New(t)
	}
	params, err := buildParameters(s.paramsJSON, s.params)
	if err != nil {
		return nil, err
	}
	if params != "{}" {
		out.Parameters = params
	}
	policy, err := catchUpPolicy(s.catchUp)
	if err != nil {
		return nil, err
	}
	out.CatchUp = policy
	active := !s.paused
	out.Active = &active
	if s.jitter != 0 {
		out.Jitter = durationpb.New(s.jitter)
	}
	if s.dropAfter != 0 {
		out.DropIfLaterThan = durationpb.New(s.dropAfter)
	}
	return out, nil
}

// catchUpPolicy reads a catch-up policy by its short name.
func catchUpPolicy(name string) (ferryv1.CatchUpPolicy, error) {
	switch strings.ToLower(name) {
	case "", "skip":
		return ferryv1.CatchUpPolicy_CATCH_UP_POLICY_SKIP, nil
	case "latest":
		return ferryv1.CatchUpPolicy_CATCH_UP_POLICY_LATEST, nil
	case "all":
		return ferryv1.CatchUpPolicy_CATCH_UP_POLICY_ALL, nil
	}
	return ferryv1.CatchUpPolicy_CATCH_UP_POLICY_UNSPECIFIED, fmt.Errorf("catch-up policy %q: want skip, latest or all", name)
}

func scheduleApply(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule apply", "DEPLOYMENT NAME",
		"Create or update the schedule NAME of a deployment. Give exactly one of --cron,\n"+
			"--interval and --rrule. Applying the same settings again changes nothing; a change\n"+
			"of fire times or parameters cancels the runs already created for future fire times,\n"+
			"and the scheduler creates them again.")
	conn := addConnFlags(f)
	flags := addScheduleSpecFlags(f)
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	spec, err := flags.spec()
	if err != nil {
		return f.usageErr("%v", err)
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	return applySchedules(ctx, env, c, []*ferryv1.ApplyScheduleRequest{{Deployment: pos[0], Name: pos[1], Spec: spec}})
}

// applySchedules applies each schedule and reports it as created, updated
// or unchanged.
func applySchedules(ctx context.Context, env Env, c *client, reqs []*ferryv1.ApplyScheduleRequest) error {
	fm := newFormatter(env)
	for _, req := range reqs {
		label := req.GetDeployment() + "/" + req.GetName()
		resp, err := unary(ctx, c, fmt.Sprintf("apply schedule %q", label), c.schedules.ApplySchedule, req)
		if err != nil {
			return err
		}
		verdict := "unchanged"
		switch {
		case resp.GetCreated():
			verdict = "created"
		case resp.GetChanged():
			verdict = "updated"
		}
		fmt.Fprintf(env.Stdout, "schedule %q %s; next fire time %s\n",
			label, verdict, fm.timestamp(resp.GetSchedule().GetNextFireTime()))
	}
	return nil
}

func scheduleList(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule ls", "", "List schedules, every page of them.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	deployment := f.String("deployment", "", "only the schedules of this `deployment`")
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
	var all []*ferryv1.Schedule
	req := &ferryv1.ListSchedulesRequest{Deployment: *deployment}
	seen := map[string]bool{}
	for {
		resp, err := unary(ctx, c, "list schedules", c.schedules.ListSchedules, req)
		if err != nil {
			return err
		}
		all = append(all, resp.GetSchedules()...)
		next := resp.GetNextPageToken()
		if next == "" {
			break
		}
		if seen[next] {
			return fmt.Errorf("list schedules: the server repeated page token %q", next)
		}
		seen[next] = true
		req.PageToken = next
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, all...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(all))
	for _, s := range all {
		sp := s.GetSpec()
		rows = append(rows, []string{
			clean(s.GetDeployment()), clean(s.GetName()), scheduleWhen(sp), clean(sp.GetZone()),
			yesNo(sp.GetActive()), catchUpLabel(sp), fm.timestamp(s.GetNextFireTime()),
		})
	}
	return writeTable(env.Stdout, []string{"DEPLOYMENT", "NAME", "WHEN", "ZONE", "ACTIVE", "CATCH-UP", "NEXT"}, rows)
}

// scheduleWhen describes when a schedule fires: its expression, or its interval.
func scheduleWhen(sp *ferryv1.ScheduleSpec) string {
	switch sp.GetKind() {
	case ferryv1.ScheduleKind_SCHEDULE_KIND_INTERVAL:
		return "every " + protoDuration(sp.GetInterval())
	case ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE:
		return "rrule " + clean(sp.GetExpression())
	}
	return "cron " + clean(sp.GetExpression())
}

func catchUpLabel(sp *ferryv1.ScheduleSpec) string {
	label := strings.ToLower(strings.TrimPrefix(sp.GetCatchUp().String(), "CATCH_UP_POLICY_"))
	if sp.GetCatchUp() == ferryv1.CatchUpPolicy_CATCH_UP_POLICY_ALL {
		label += " " + strconv.Itoa(int(sp.GetCatchUpLimit()))
	}
	return label
}

func schedulePreview(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule preview", "DEPLOYMENT NAME",
		"Show the next fire times of a schedule in its zone and in UTC, with\n"+
			"daylight-saving adjustments noted.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	count := f.Int("n", 10, "number of fire times (at most 1000)")
	after := f.String("after", "", "start after this RFC 3339 `time` (default now)")
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *count < 1 || *count > 1000 {
		return f.usageErr("-n must be between 1 and 1000")
	}
	req := &ferryv1.PreviewScheduleRequest{Deployment: pos[0], Name: pos[1], Count: int32(*count)}
	if *after != "" {
		t, err := time.Parse(time.RFC3339, *after)
		if err != nil {
			return f.usageErr("--after %q: want an RFC 3339 time", *after)
		}
		req.After = timestamppb.New(t)
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, fmt.Sprintf("preview schedule %q", pos[0]+"/"+pos[1]), c.schedules.PreviewSchedule, req)
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp)
	}
	rows := make([][]string, 0, len(resp.GetFireTimes()))
	for _, ft := range resp.GetFireTimes() {
		rows = append(rows, []string{
			clean(ft.GetLocalTime()), ft.GetTime().AsTime().UTC().Format("2006-01-02 15:04:05Z"), orDash(ft.GetDstNote()),
		})
	}
	return writeTable(env.Stdout, []string{"LOCAL (" + clean(resp.GetZone()) + ")", "UTC", "DAYLIGHT SAVING"}, rows)
}

func scheduleBackfill(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule backfill", "DEPLOYMENT NAME",
		"Create the runs the schedule would have made for its fire times from --start to\n"+
			"--end (both included, both in the past). Fire times that already have a run are\n"+
			"left alone, so repeating a backfill creates nothing new.")
	conn := addConnFlags(f)
	start := f.String("start", "", "earliest fire `time`, RFC 3339; required")
	end := f.String("end", "", "latest fire `time`, RFC 3339; required")
	maxRuns := f.Int("max-runs", 100, "refuse a range with more fire times than this (at most 1000)")
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	if *maxRuns < 1 || *maxRuns > 1000 {
		return f.usageErr("--max-runs must be between 1 and 1000")
	}
	req := &ferryv1.BackfillScheduleRequest{Deployment: pos[0], Name: pos[1], MaxRuns: int32(*maxRuns)}
	for _, b := range []struct {
		flag, value string
		dst         **timestamppb.Timestamp
	}{{"--start", *start, &req.Start}, {"--end", *end, &req.End}} {
		if b.value == "" {
			return f.usageErr("%s is required", b.flag)
		}
		t, err := time.Parse(time.RFC3339, b.value)
		if err != nil {
			return f.usageErr("%s %q: want an RFC 3339 time such as 2025-01-01T00:00:00Z", b.flag, b.value)
		}
		*b.dst = timestamppb.New(t)
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, fmt.Sprintf("backfill schedule %q", pos[0]+"/"+pos[1]), c.schedules.BackfillSchedule, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d fire times: %d runs created, %d already had one\n",
		len(resp.GetNominalTimes()), resp.GetCreated(), resp.GetExisting())
	return nil
}

func schedulePause(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule pause", "DEPLOYMENT NAME",
		"Pause a schedule: it creates no runs, and its runs for future fire times are cancelled.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	label := pos[0] + "/" + pos[1]
	resp, err := unary(ctx, c, fmt.Sprintf("pause schedule %q", label), c.schedules.PauseSchedule,
		&ferryv1.PauseScheduleRequest{Deployment: pos[0], Name: pos[1]})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schedule %q paused; %d future runs cancelled\n", label, resp.GetCancelledRuns())
	return nil
}

func scheduleResume(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule resume", "DEPLOYMENT NAME",
		"Resume a paused schedule; fire times missed while paused follow its catch-up policy.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	label := pos[0] + "/" + pos[1]
	resp, err := unary(ctx, c, fmt.Sprintf("resume schedule %q", label), c.schedules.ResumeSchedule,
		&ferryv1.ResumeScheduleRequest{Deployment: pos[0], Name: pos[1]})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schedule %q resumed; next fire time %s\n",
		label, newFormatter(env).timestamp(resp.GetSchedule().GetNextFireTime()))
	return nil
}

func scheduleDelete(ctx context.Context, env Env, args []string) error {
	f := newFlags("schedule rm", "DEPLOYMENT NAME",
		"Delete a schedule; its runs for future fire times are cancelled, past runs are kept.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "DEPLOYMENT", "NAME")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	label := pos[0] + "/" + pos[1]
	resp, err := unary(ctx, c, fmt.Sprintf("delete schedule %q", label), c.schedules.DeleteSchedule,
		&ferryv1.DeleteScheduleRequest{Deployment: pos[0], Name: pos[1]})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schedule %q deleted; %d future runs cancelled\n", label, resp.GetCancelledRuns())
	return nil
}
