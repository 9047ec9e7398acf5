package cli

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// protoPackagePrefix completes a short --procedure ("RunService/CreateRun")
// into the procedure the server records.
const protoPackagePrefix = "/ferry.v1."

func auditList(ctx context.Context, env Env, args []string) error {
	f := newFlags("audit ls", "",
		"List the audit trail of the workspace, newest first: every call that changed\n"+
			"something and every call that was denied, with who made it, from where, and why\n"+
			"it was allowed or refused.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	actor := f.String("actor", "", "only calls by this `subject`, such as apikey:abcd1234efgh")
	procedure := f.String("procedure", "", "only calls of this `procedure`: RunService/CreateRun or /ferry.v1.RunService/CreateRun")
	decision := f.String("decision", "", "only calls with this `decision`: allow, deny or none")
	resource := f.String("resource", "", "only calls on this `resource`, such as deployment/etl")
	since := f.String("since", "", "only calls at or after this time: a duration back from now (`24h`) or an RFC 3339 time")
	until := f.String("until", "", "only calls before this time: a duration back from now (`1h`) or an RFC 3339 time")
	limit := f.Int("limit", 0, "at most `N` events (1 to 1000; default: the server's page size, 100)")
	pageToken := f.String("page-token", "", "continue a listing where the previous page ended")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *limit < 0 || *limit > 1000 {
		return f.usageErr("--limit must be between 1 and 1000")
	}
	req := &ferryv1.ListAuditEventsRequest{
		Actor:     *actor,
		Procedure: auditProcedure(*procedure),
		Resource:  *resource,
		PageSize:  int32(*limit),
		PageToken: *pageToken,
	}
	if *decision != "" {
		d, err := parseAuditDecision(*decision)
		if err != nil {
			return f.usageErr("%v", err)
		}
		req.Decision = d
	}
	fm := newFormatter(env)
	for _, tf := range []struct {
		name, value string
		dst         **timestamppb.Timestamp
	}{{"--since", *since, &req.StartTime}, {"--until", *until, &req.EndTime}} {
		if tf.value == "" {
			continue
		}
		t, err := parseSince(tf.value, fm.now())
		if err != nil {
			return f.usageErr("%s", strings.Replace(err.Error(), "--since", tf.name, 1))
		}
		*tf.dst = timestamppb.New(t)
	}

	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list audit events", c.audit.ListAuditEvents, req)
	if err != nil {
		return err
	}
	events := resp.GetEvents()
	if *output == outputJSON {
		err = writeJSON(env.Stdout, events...)
	} else {
		rows := make([][]string, 0, len(events))
		for _, e := range events {
			rows = append(rows, []string{
				fm.preciseTimestamp(e.GetTime()), clean(e.GetActor()), auditProcedureLabel(e.GetProcedure()),
				orDash(clean(e.GetResource())), auditDecisionLabel(e.GetDecision()), clean(e.GetCode()),
				orDash(clean(e.GetReason())), orDash(clean(e.GetSourceAddr())), clean(e.GetRequestId()),
			})
		}
		err = writeTable(env.Stdout, []string{
			"TIME", "ACTOR", "PROCEDURE", "RESOURCE", "DECISION", "CODE", "REASON", "SOURCE", "REQUEST ID",
		}, rows)
	}
	if err != nil {
		return err
	}
	if next := resp.GetNextPageToken(); next != "" {
		fmt.Fprintf(env.Stderr, "more events: repeat with --page-token %s\n", next)
	}
	return nil
}

// auditProcedure completes "RunService/CreateRun" to
// "/ferry.v1.RunService/CreateRun"; a full procedure is kept.
func auditProcedure(s string) string {
	if s == "" || strings.HasPrefix(s, "/") {
		return s
	}
	return protoPackagePrefix + s
}

// auditProcedureLabel shortens a Ferry procedure for a table:
// "RunService/CreateRun".
func auditProcedureLabel(p string) string {
	return clean(strings.TrimPrefix(p, protoPackagePrefix))
}

// parseAuditDecision accepts "deny", "DENY" or "AUDIT_DECISION_DENY".
func parseAuditDecision(s string) (ferryv1.AuditDecision, error) {
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "AUDIT_DECISION_") {
		name = "AUDIT_DECISION_" + name
	}
	v, ok := ferryv1.AuditDecision_value[name]
	if !ok || v == 0 {
		return 0, fmt.Errorf("--decision %q: want allow, deny or none", s)
	}
	return ferryv1.AuditDecision(v), nil
}

// auditDecisionLabel is the short name of a decision: "deny".
func auditDecisionLabel(d ferryv1.AuditDecision) string {
	if _, known := ferryv1.AuditDecision_name[int32(d)]; !known {
		return "unknown"
	}
	if d == ferryv1.AuditDecision_AUDIT_DECISION_UNSPECIFIED {
		return "-"
	}
	return strings.ToLower(strings.TrimPrefix(d.String(), "AUDIT_DECISION_"))
}
