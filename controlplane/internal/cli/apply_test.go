package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestApplyCreatesThenChangesNothing(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	file := filepath.Join("testdata", "apply", "good.yaml")

	first := srv.run(t, nil, "apply", "-f", file)
	if first.code != 0 {
		t.Fatalf("first apply: exit %d, stderr %q", first.code, first.stderr)
	}
	wantFirst := `work pool "local" created
work queue "local/default" unchanged
work queue "local/urgent" created
deployment "tzreport" version 1 (changed)
`
	if diff := cmp.Diff(wantFirst, first.stdout); diff != "" {
		t.Errorf("first apply output (-want +got):\n%s", diff)
	}

	srv.mu.Lock()
	mutations := srv.mutations
	srv.mu.Unlock()

	second := srv.run(t, nil, "apply", "-f", file)
	if second.code != 0 {
		t.Fatalf("second apply: exit %d, stderr %q", second.code, second.stderr)
	}
	wantSecond := `work pool "local" unchanged
work queue "local/default" unchanged
work queue "local/urgent" unchanged
deployment "tzreport" version 1 (unchanged)
`
	if diff := cmp.Diff(wantSecond, second.stdout); diff != "" {
		t.Errorf("second apply output (-want +got):\n%s", diff)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.mutations != mutations {
		t.Errorf("second apply made %d changes, want none", srv.mutations-mutations)
	}
}

func TestApplyReportsUpdates(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	v1 := "pools:\n  - {name: local, type: process}\ndeployments:\n  - {name: d, pool: local, command: [a]}\n"
	v2 := "pools:\n  - {name: local, type: process, paused: true}\ndeployments:\n  - {name: d, pool: local, command: [b]}\n"
	if r := srv.runContext(t, t.Context(), v1, nil, "apply", "-f", "-"); r.code != 0 {
		t.Fatalf("apply v1: exit %d, stderr %q", r.code, r.stderr)
	}
	r := srv.runContext(t, t.Context(), v2, nil, "apply", "-f", "-")
	if r.code != 0 {
		t.Fatalf("apply v2: exit %d, stderr %q", r.code, r.stderr)
	}
	want := "work pool \"local\" updated\ndeployment \"d\" version 2 (changed)\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestApplyInvalidFileMakesNoCall(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	// The first deployment is valid; the second is not, so nothing is sent.
	src := "pools:\n  - {name: local, type: process}\ndeployments:\n  - {name: ok, pool: local, command: [a]}\n  - {name: bad, pool: local, command: [a], retries: -1}\n"
	r := srv.runContext(t, t.Context(), src, nil, "apply", "-f", "-")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if want := "ferry: <stdin>:5: retries must be between 0 and 100, not -1\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.authHeaders) != 0 {
		t.Errorf("the CLI made %d calls, want none", len(srv.authHeaders))
	}
}

func TestApplyQueueOfUnknownPool(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	r := srv.runContext(t, t.Context(), "queues:\n  - {pool: nowhere, name: q}\n", nil, "apply", "-f", "-")
	if r.code != 1 || !strings.Contains(r.stderr, `apply work queue "nowhere/q": work pool "nowhere" not found`) {
		t.Errorf("exit %d, stderr %q; want the server's not-found message", r.code, r.stderr)
	}
}

func TestApplyNeedsFile(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	r := srv.run(t, nil, "apply")
	if r.code != exitUsage || !strings.Contains(r.stderr, "-f FILE is required") {
		t.Errorf("exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
	r = srv.run(t, nil, "apply", "-f", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, "read apply file") {
		t.Errorf("exit %d, stderr %q; want a read error", r.code, r.stderr)
	}
}

func TestReadCommandsAfterApply(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	if r := srv.run(t, nil, "apply", "-f", filepath.Join("testdata", "apply", "good.yaml")); r.code != 0 {
		t.Fatalf("apply: exit %d, stderr %q", r.code, r.stderr)
	}
	r := srv.run(t, nil, "pool", "ls")
	want := "NAME   TYPE     PAUSED  LIMIT  DESCRIPTION\nlocal  process  no      4      runs on this machine\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("pool ls (-want +got):\n%s", diff)
	}
	r = srv.run(t, nil, "deployment", "get", "tzreport", "--output", "json")
	got := &ferryv1.Deployment{}
	if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil {
		t.Fatalf("deployment get json %q: %v", r.stdout, err)
	}
	if got.GetSpec().GetDefaultParameters() == "" || !strings.Contains(got.GetSpec().GetDefaultParameters(), "9007199254740993") {
		t.Errorf("default parameters = %q, want the exact big integer", got.GetSpec().GetDefaultParameters())
	}
	r = srv.run(t, nil, "deployment", "get", "tzreport")
	// Compare with runs of spaces squeezed: the alignment is tabwriter's.
	shown := strings.Join(strings.Fields(r.stdout), " ")
	for _, line := range []string{"Version: 1", "Retry: 2 retries, delay 2s, on failed, crashed, timed_out", "Env: LOG_LEVEL, PORT"} {
		if !strings.Contains(shown, line) {
			t.Errorf("deployment get does not show %q:\n%s", line, r.stdout)
		}
	}
}

func TestDeploymentPausedShown(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	src := "pools:\n  - {name: local, type: process}\ndeployments:\n" +
		"  - {name: etl, pool: local, command: [etl]}\n  - {name: report, pool: local, command: [report]}\n"
	if r := srv.runContext(t, t.Context(), src, nil, "apply", "-f", "-"); r.code != 0 {
		t.Fatalf("apply: exit %d, stderr %q", r.code, r.stderr)
	}
	srv.mu.Lock()
	srv.deployments["etl"].Paused = true
	srv.mu.Unlock()

	r := srv.run(t, nil, "deployment", "ls")
	want := "NAME    VERSION  POOL   QUEUE  PAUSED  UPDATED              DESCRIPTION\n" +
		"etl     1        local  -      yes     2024-05-01 12:01:00  -\n" +
		"report  1        local  -      no      2024-05-01 12:01:00  -\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("deployment ls (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name, want string
	}{
		{"etl", "Paused: yes"},
		{"report", "Paused: no"},
	} {
		r := srv.run(t, nil, "deployment", "get", tt.name)
		if shown := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(shown, tt.want) {
			t.Errorf("deployment get %s does not show %q:\n%s", tt.name, tt.want, r.stdout)
		}
	}
}
