package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/controlplane/internal/api"
	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/bootstrap"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/schedule"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// scheduleTestNow is the fake time of the schedule server: two days before
// Europe/Berlin springs forward on 2025-03-30.
var scheduleTestNow = time.Date(2025, 3, 28, 12, 0, 0, 0, time.UTC)

// scheduleServer serves the work pool, deployment and schedule services on
// loopback behind the real authentication and validation interceptors, on
// a fresh database, with the clock fixed at [scheduleTestNow]. It returns
// a function that runs the CLI against it.
func scheduleServer(t *testing.T) func(args ...string) cliResult {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	boot, err := bootstrap.Ensure(ctx, st, "", time.Now())
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	fake := clock.NewFake(scheduleTestNow)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &schedule.Service{Store: st, Clock: fake, Log: log, Applier: transition.NewApplier(time.Minute)}
	opts := connect.WithInterceptors(auth.NewAuthenticator(st.Q, clock.Real{}).Interceptor(), validate.Interceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewWorkPoolServiceHandler(&api.WorkPoolServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewDeploymentServiceHandler(&api.DeploymentServer{Store: st, Clock: fake, Log: log}, opts))
	mux.Handle(ferryv1connect.NewScheduleServiceHandler(&api.ScheduleServer{Service: svc, Clock: fake, Log: log}, opts))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f := &fakeServer{url: hs.URL}
	return func(args ...string) cliResult {
		t.Helper()
		return f.run(t, map[string]string{"FERRY_API_KEY": boot.AdminKey}, args...)
	}
}

const scheduleApplyFile = `
pools:
  - {name: local, type: process}
deployments:
  - name: report
    pool: local
    command: [report, "{{ .day }}"]
    parameters_schema: {type: object, properties: {day: {type: string}}, required: [day]}
    default_parameters: {day: today}
    schedules:
      - name: nightly
        cron: "30 2 * * *"
        zone: Europe/Berlin
        catch_up: latest
      - name: quarter
        interval: 15m
        anchor: 2025-01-01T00:00:00Z
        parameters: {day: yesterday}
        active: false
`

func TestScheduleCommands(t *testing.T) {
	t.Parallel()
	ferry := scheduleServer(t)
	file := writeTestFile(t, t.TempDir(), "ferry.yaml", scheduleApplyFile)

	first := ferry("apply", "-f", file)
	if first.code != 0 {
		t.Fatalf("apply: exit %d, stderr %q", first.code, first.stderr)
	}
	wantFirst := `work pool "local" created
deployment "report" version 1 (changed)
schedule "report/nightly" created; next fire time 2025-03-29 01:30:00
schedule "report/quarter" created; next fire time 2025-03-28 12:15:00
`
	if diff := cmp.Diff(wantFirst, first.stdout); diff != "" {
		t.Errorf("first apply (-want +got):\n%s", diff)
	}
	again := ferry("apply", "-f", file)
	if again.code != 0 || !strings.Contains(again.stdout, `schedule "report/nightly" unchanged`) {
		t.Errorf("second apply: exit %d, stdout %q; want the schedules unchanged", again.code, again.stdout)
	}

	ls := ferry("schedule", "ls")
	wantLs := `DEPLOYMENT  NAME     WHEN             ZONE           ACTIVE  CATCH-UP  NEXT
report      nightly  cron 30 2 * * *  Europe/Berlin  yes     latest    2025-03-29 01:30:00
report      quarter  every 15m0s      UTC            no      skip      2025-03-28 12:15:00
`
	if diff := cmp.Diff(wantLs, ls.stdout); ls.code != 0 || diff != "" {
		t.Errorf("schedule ls: exit %d, stderr %q (-want +got):\n%s", ls.code, ls.stderr, diff)
	}

	preview := ferry("schedule", "preview", "report", "nightly", "-n", "3")
	wantPreview := `LOCAL (Europe/Berlin)            UTC                   DAYLIGHT SAVING
2025-03-29 02:30:00 +01:00 CET   2025-03-29 01:30:00Z  -
2025-03-30 03:00:00 +02:00 CEST  2025-03-30 01:00:00Z  gap: 02:30 does not exist, fired at 03:00
2025-03-31 02:30:00 +02:00 CEST  2025-03-31 00:30:00Z  -
`
	if diff := cmp.Diff(wantPreview, preview.stdout); preview.code != 0 || diff != "" {
		t.Errorf("schedule preview: exit %d, stderr %q (-want +got):\n%s", preview.code, preview.stderr, diff)
	}

	for i, want := range []string{
		"5 fire times: 5 runs created, 0 already had one\n",
		"5 fire times: 0 runs created, 5 already had one\n",
	} {
		r := ferry("schedule", "backfill", "report", "quarter", "--start", "2025-03-28T10:00:00Z", "--end", "2025-03-28T11:00:00Z")
		if r.code != 0 || r.stdout != want {
			t.Errorf("backfill %d: exit %d, stdout %q, stderr %q; want %q", i+1, r.code, r.stdout, r.stderr, want)
		}
	}

	if r := ferry("schedule", "resume", "report", "quarter"); r.code != 0 || !strings.Contains(r.stdout, "resumed") {
		t.Errorf("resume: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := ferry("schedule", "pause", "report", "quarter"); r.code != 0 || !strings.Contains(r.stdout, "paused; 0 future runs cancelled") {
		t.Errorf("pause: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := ferry("schedule", "rm", "report", "quarter"); r.code != 0 {
		t.Errorf("rm: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ferry("schedule", "preview", "report", "quarter"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("preview of a deleted schedule: exit %d, stderr %q; want not found", r.code, r.stderr)
	}
}

func TestScheduleApplyRefusals(t *testing.T) {
	t.Parallel()
	ferry := scheduleServer(t)
	file := writeTestFile(t, t.TempDir(), "ferry.yaml", scheduleApplyFile)
	if r := ferry("apply", "-f", file); r.code != 0 {
		t.Fatalf("apply: exit %d, stderr %q", r.code, r.stderr)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad cron", []string{"--cron", "61 * * * *"}, "spec.expression: cron minute"},
		{"unknown zone", []string{"--cron", "0 3 * * *", "--zone", "Europe/Atlantis"}, "spec.zone: zone \"Europe/Atlantis\": unknown IANA time zone"},
		{"interval below the minimum", []string{"--interval", "20s"}, "spec.interval: 20s is shorter than the minimum interval"},
		{"cron below the minimum", []string{"--rrule", "FREQ=MINUTELY;BYSECOND=0,30"}, "spec.expression"},
		{"bad rrule", []string{"--rrule", "FREQ=DAILY;BYFOO=1"}, "spec.expression"},
		{"parameters against the schema", []string{"--cron", "0 3 * * *", "--params-json", `{"day":5}`}, "spec.parameters"},
	}
	for _, tt := range tests {
		r := ferry(append([]string{"schedule", "apply", "report", "other"}, tt.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 with %q", tt.name, r.code, r.stderr, tt.want)
		}
	}
	if r := ferry("schedule", "ls"); strings.Contains(r.stdout, "other") {
		t.Errorf("a refused apply stored a schedule:\n%s", r.stdout)
	}
	if r := ferry("schedule", "apply", "report", "x"); r.code != 2 || !strings.Contains(r.stderr, "exactly one of --cron") {
		t.Errorf("apply without a kind: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

func TestApplyFileSchedules(t *testing.T) {
	t.Parallel()
	f, err := parseApplyFile("s.yaml", []byte(scheduleApplyFile))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(f.Schedules) != 2 || f.Schedules[0].GetDeployment() != "report" || f.Schedules[1].GetSpec().GetActive() {
		t.Fatalf("schedules %v: want two of deployment report, the second inactive", f.Schedules)
	}
	if got := f.Schedules[1].GetSpec().GetParameters(); got != `{"day":"yesterday"}` {
		t.Errorf("parameters %s, want {\"day\":\"yesterday\"}", got)
	}

	bad := []struct {
		name, schedules, want string
	}{
		{"no kind", "[{name: a}]", "give exactly one of cron, interval and rrule"},
		{"two kinds", `[{name: a, cron: "* * * * *", interval: 1h}]`, "give exactly one of cron, interval and rrule"},
		{"no name", `[{cron: "* * * * *"}]`, "name is required"},
		{"duplicate", `[{name: a, cron: "0 * * * *"}, {name: a, cron: "5 * * * *"}]`, `schedule "a" is already defined`},
		{"unknown field", `[{name: a, cron: "0 * * * *", every: 5}]`, `unknown field "every"`},
		{"bad policy", `[{name: a, cron: "0 * * * *", catch_up: sometimes}]`, "catch_up must be skip, latest or all"},
		{"bad anchor", `[{name: a, interval: 1h, anchor: tomorrow}]`, "anchor must be an RFC 3339 time"},
	}
	for _, tt := range bad {
		body := "deployments:\n  - {name: d, pool: p, command: [x], schedules: " + tt.schedules + "}\n"
		_, err := parseApplyFile("bad.yaml", []byte(body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error with %q", tt.name, err, tt.want)
		}
	}
}
