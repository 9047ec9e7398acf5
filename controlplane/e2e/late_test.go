package e2e

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/server"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// TestLateRuns checks that a scheduled run no agent takes is named Late
// once it is LateAfter past its expected start, by every read of the API,
// while a run due later keeps its name.
func TestLateRuns(t *testing.T) {
	t.Parallel()
	const lateAfter = time.Minute
	p := startPlane(t, func(c *server.Config) { c.LateAfter = lateAfter })
	p.setupDeployment(t, "slow")
	due := p.createRun(t, "slow", "")
	future, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{Run: &ferryv1.RunTemplate{
		Deployment: "slow", ExpectedStartTime: timestamppb.New(p.clock.Now().Add(time.Hour)),
	}}))
	if err != nil {
		t.Fatalf("create future run: %v", err)
	}
	futureID := future.Msg.GetRun().GetId()

	stream, err := p.runs.WatchRun(callCtx(t), connect.NewRequest(&ferryv1.WatchRunRequest{Id: due.GetId()}))
	if err != nil {
		t.Fatalf("watch run: %v", err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatalf("watch run: no first message: %v", stream.Err())
	}
	if got := stream.Msg().GetRun().GetStateName(); got != "Scheduled" {
		t.Fatalf("watch run: first state name %q, want Scheduled", got)
	}

	names := func() map[string]string {
		t.Helper()
		resp, err := p.runs.ListRuns(callCtx(t), connect.NewRequest(&ferryv1.ListRunsRequest{}))
		if err != nil {
			t.Fatalf("list runs: %v", err)
		}
		out := map[string]string{}
		for _, r := range resp.Msg.GetRuns() {
			out[r.GetId()] = r.GetStateName()
		}
		return out
	}

	p.clock.Advance(lateAfter - time.Second)
	if got := p.getRun(t, due.GetId()).GetStateName(); got != "Scheduled" {
		t.Errorf("a second before the threshold: GetRun names the run %q, want Scheduled", got)
	}

	p.clock.Advance(time.Second)
	if got := p.getRun(t, due.GetId()).GetStateName(); got != "Late" {
		t.Errorf("at the threshold: GetRun names the run %q, want Late", got)
	}
	listed := names()
	if listed[due.GetId()] != "Late" || listed[futureID] != "Scheduled" {
		t.Errorf("ListRuns names = %v, want %s Late and %s Scheduled", listed, due.GetId(), futureID)
	}
	if !stream.Receive() {
		t.Fatalf("watch run: no message after the run turned late: %v", stream.Err())
	}
	if got := stream.Msg().GetRun(); got.GetStateName() != "Late" || got.GetState() != ferryv1.RunState_RUN_STATE_SCHEDULED {
		t.Errorf("watch run: got %v (%q), want SCHEDULED (Late)", got.GetState(), got.GetStateName())
	}
}
