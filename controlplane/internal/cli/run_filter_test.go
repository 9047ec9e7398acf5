package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestRunListFilterFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want *ferryv1.ListRunsRequest
	}{
		{"tags", []string{"--tag", "nightly", "--tag", "team-data"},
			&ferryv1.ListRunsRequest{Tags: []string{"nightly", "team-data"}}},
		{"late", []string{"--late"}, &ferryv1.ListRunsRequest{Late: true}},
		{"time range", []string{"--since", "2024-04-29T12:00:00Z", "--until", "2024-05-01T11:00:00Z"},
			&ferryv1.ListRunsRequest{CreatedAfter: ts(-48 * time.Hour), CreatedBefore: ts(-time.Hour)}},
		{"every filter", []string{"--state", "scheduled", "--deployment", "etl", "--tag", "vip", "--late", "--until", "2024-05-01T11:00:00Z"},
			&ferryv1.ListRunsRequest{
				States: []ferryv1.RunState{ferryv1.RunState_RUN_STATE_SCHEDULED}, Deployment: "etl",
				Tags: []string{"vip"}, Late: true, CreatedBefore: ts(-time.Hour),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t)
			srv.listResp = &ferryv1.ListRunsResponse{}
			r := srv.run(t, nil, append([]string{"run", "ls"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if diff := cmp.Diff(tc.want, srv.listReqs[0], protocmp.Transform()); diff != "" {
				t.Errorf("ListRuns request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunListBadUntil(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	r := srv.run(t, nil, "run", "ls", "--until", "yesterday")
	if r.code == 0 {
		t.Fatalf("exit 0, want a usage error")
	}
	if want := `--until "yesterday"`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not name %s", r.stderr, want)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.listReqs) != 0 {
		t.Errorf("ListRuns was called %d times", len(srv.listReqs))
	}
}
