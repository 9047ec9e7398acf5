package e2e

import (
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// outLines returns "out 1" .. "out n", as the payload prints them.
func outLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("out %d", i+1)
	}
	return out
}

func TestDockerRunOutcomes(t *testing.T) {
	t.Parallel()
	dp := startDockerPlane(t, steadyLease)
	dp.startDockerAgent(t, agentConfig{})

	tests := []struct {
		name string
		spec *ferryv1.DeploymentSpec
		want ferryv1.RunState
		// wantName is the run's state name; wantMessage a part of its
		// state message.
		wantName    string
		wantMessage string
		// wantExit is the exit code, or nil when none is known.
		wantExit *int32
		// wantLines are the lines stored, when they are checked.
		wantLines []string
	}{
		{
			name:      "completes with every line",
			spec:      &ferryv1.DeploymentSpec{Command: []string{dp.payload, "-stdout=300", "-interval=1ms"}},
			want:      completed,
			wantName:  "Completed",
			wantExit:  exit(0),
			wantLines: outLines(300),
		},
		{
			name:        "exit code 1",
			spec:        &ferryv1.DeploymentSpec{Command: []string{dp.payload, "-stdout=2", "-exit=1"}},
			want:        failed,
			wantName:    "Failed",
			wantMessage: "exited with code 1",
			wantExit:    exit(1),
			wantLines:   outLines(2),
		},
		{
			name: "out of memory",
			spec: &ferryv1.DeploymentSpec{
				Command:   []string{dp.payload, "-oom"},
				Container: &ferryv1.ContainerSpec{MemoryBytes: 32 << 20},
			},
			want:        failed,
			wantName:    "Failed",
			wantMessage: "out of memory: the container exceeded its memory limit of 32 MiB",
			wantExit:    exit(137),
		},
		{
			name: "image missing under pull policy never",
			spec: &ferryv1.DeploymentSpec{
				Image:     "ferry-e2e-absent:1",
				Command:   []string{"/absent"},
				Container: &ferryv1.ContainerSpec{PullPolicy: ferryv1.PullPolicy_PULL_POLICY_NEVER},
			},
			want:        failed,
			wantName:    "Failed",
			wantMessage: "image ferry-e2e-absent:1 is not present and pull policy is never",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("outcome-%d", i)
			dp.deploy(t, name, tt.spec)
			id := dp.startRun(t, name)

			r := waitRun(t, dp.api, id, tt.want)
			if r.GetStateName() != tt.wantName || !strings.Contains(r.GetStateMessage(), tt.wantMessage) {
				t.Errorf("run ended %v named %q with message %q, want %v named %q with a message containing %q",
					r.GetState(), r.GetStateName(), r.GetStateMessage(), tt.want, tt.wantName, tt.wantMessage)
			}
			if diff := cmp.Diff(tt.wantExit, r.ExitCode); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if tt.wantLines != nil {
				if err := invariant.CheckLogs(callCtx(t), dp.q, uuid.MustParse(id), 1, tt.wantLines); err != nil {
					t.Error(err)
				}
			}
			dp.waitNoContainer(t, id)
		})
	}
}

func TestDockerCancelIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	dp := startDockerPlane(t, steadyLease)
	dp.startDockerAgent(t, agentConfig{})
	dp.deploy(t, "stubborn", &ferryv1.DeploymentSpec{Command: []string{dp.payload, "-ignore-term", "-sleep=5m"}})
	id := dp.startRun(t, "stubborn")
	waitRun(t, dp.api, id, running)
	// The payload says so once SIGTERM is ignored; cancel only then, so that
	// the stop has to end in SIGKILL.
	dp.waitLines(t, id, 1)

	if _, err := dp.api.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{
		Id: id, Reason: "e2e cancel",
	})); err != nil {
		t.Fatalf("cancel run: %v", err)
	}
	r := waitRun(t, dp.api, id, cancelled)
	if r.GetStateName() != "Cancelled" {
		t.Errorf("cancelled run named %q, want Cancelled", r.GetStateName())
	}
	if diff := cmp.Diff([]string{"ignoring SIGTERM"}, dp.outputLines(t, id, ferryv1.LogStream_LOG_STREAM_STDOUT)); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	dp.waitNoContainer(t, id)
}

func TestDockerTimeout(t *testing.T) {
	t.Parallel()
	dp := startDockerPlane(t, steadyLease)
	dp.startDockerAgent(t, agentConfig{})
	dp.deploy(t, "slow", &ferryv1.DeploymentSpec{
		Command: []string{dp.payload, "-sleep=5m"},
		Timeout: durationpb.New(dockerStopGrace),
	})
	id := dp.startRun(t, "slow")
	r := waitRun(t, dp.api, id, failed)
	if r.GetStateName() != "TimedOut" {
		t.Errorf("timed-out run is FAILED named %q (%s), want TimedOut", r.GetStateName(), r.GetStateMessage())
	}
	dp.waitNoContainer(t, id)
}

func TestDockerAgentKilledReadoptsRun(t *testing.T) {
	t.Parallel()
	const lines = 40
	dp := startDockerPlane(t, steadyLease)
	agent := dp.startDockerAgent(t, agentConfig{})
	dp.deploy(t, "ticker", &ferryv1.DeploymentSpec{
		Command: []string{dp.payload, fmt.Sprintf("-stdout=%d", lines), "-interval=100ms"},
		// Kept after the run, so the test can count the run's containers.
		Container: &ferryv1.ContainerSpec{KeepContainer: true},
	})
	id := dp.startRun(t, "ticker")
	waitRun(t, dp.api, id, running)
	dp.waitLines(t, id, 5)

	// The container goes on printing while no agent follows it; the agent
	// comes back under the same name with the same token and takes it up.
	agent.proc.kill(t)
	agent.start(t, dp)

	r := waitRun(t, dp.api, id, completed)
	if err := invariant.CheckLogs(callCtx(t), dp.q, uuid.MustParse(id), 1, outLines(lines)); err != nil {
		t.Error(err)
	}
	list := dp.containersOf(t, id)
	if len(list) != 1 || list[0].ID != r.GetInfrastructureId() {
		ids := make([]string, len(list))
		for i, c := range list {
			ids[i] = c.ID
		}
		t.Errorf("containers of the run: %q, want exactly the run's container %s", ids, r.GetInfrastructureId())
	}
	if n := dp.containersCreated(t, id); n != 1 {
		t.Errorf("the engine created %d containers for the run, want 1", n)
	}
	if agent.proc.exited() {
		t.Errorf("the restarted agent exited: %v", agent.proc.err)
	}
}
