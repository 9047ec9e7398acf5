package docker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	const id = "0123456789abcdef"
	inspected := func(oom bool, memory int64) container.InspectResponse {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
			State:      &container.State{OOMKilled: oom},
			HostConfig: &container.HostConfig{Resources: container.Resources{Memory: memory}},
		}}
	}
	tests := []struct {
		name       string
		cause      *stopCause
		exit       exitResult
		info       container.InspectResponse
		inspectErr error
		want       launch.Outcome
	}{
		{
			name: "success",
			info: inspected(false, 0),
			want: launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"},
		},
		{
			name: "failure",
			exit: exitResult{code: 3},
			info: inspected(false, 0),
			want: launch.Outcome{ExitCode: 3, Kind: launch.OutcomeFailed, Message: "exited with code 3"},
		},
		{
			name: "out of memory with a limit",
			exit: exitResult{code: 137},
			info: inspected(true, 64<<20),
			want: launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed,
				Message: "out of memory: the container exceeded its memory limit of 64 MiB"},
		},
		{
			name: "out of memory without a limit",
			exit: exitResult{code: 137},
			info: inspected(true, 0),
			want: launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed,
				Message: "out of memory: the container was killed by the kernel's out-of-memory killer"},
		},
		{
			name:       "not inspected after the exit",
			exit:       exitResult{code: 1},
			inspectErr: errors.New("engine gone"),
			want:       launch.Outcome{ExitCode: 1, Kind: launch.OutcomeFailed, Message: "exited with code 1"},
		},
		{
			name:  "stopped by the agent",
			cause: &stopCause{launch.OutcomeTimedOut, "timed out after 1m0s"},
			exit:  exitResult{code: 137},
			info:  inspected(false, 0),
			want:  launch.Outcome{ExitCode: 137, Kind: launch.OutcomeTimedOut, Message: "timed out after 1m0s"},
		},
		{
			name: "lost track",
			exit: exitResult{err: errors.New("connection refused")},
			want: launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed,
				Message: "lost track of container 0123456789ab: connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := outcomeOf(id, tt.cause, tt.exit, tt.info, tt.inspectErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{32 << 20, "32 MiB"}, {2 << 30, "2 GiB"}, {1536 << 20, "1536 MiB"}, {6 << 10, "6 KiB"}, {1000, "1000 bytes"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestSurvivorOf(t *testing.T) {
	t.Parallel()
	labels := map[string]string{
		"ferry.run_id": "run-1", "ferry.attempt": "2", "ferry.agent": "a", "ferry.lease_token": "5",
		"ferry.timeout_ms": "60000", "ferry.stop_grace_ms": "1500", "ferry.keep_container": "false",
	}
	info := func(status, startedAt string, edit func(map[string]string)) container.InspectResponse {
		l := make(map[string]string, len(labels))
		for k, v := range labels {
			l[k] = v
		}
		if edit != nil {
			edit(l)
		}
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{
				ID:    "c1",
				State: &container.State{Status: container.ContainerState(status), StartedAt: startedAt},
			},
			Config: &container.Config{Labels: l},
		}
	}
	started := time.Date(2025, 3, 30, 1, 0, 0, 5, time.UTC)
	base := launch.Survivor{RunID: "run-1", Attempt: 2, InfrastructureID: "c1", Timeout: time.Minute,
		StopGrace: 1500 * time.Millisecond, LeaseToken: 5}
	withStart := base
	withStart.StartedAt = started
	ended := withStart
	ended.Ended = true

	tests := []struct {
		name    string
		info    container.InspectResponse
		want    launch.Survivor
		wantErr string
	}{
		{name: "running", info: info("running", started.Format(time.RFC3339Nano), nil), want: withStart},
		{name: "exited", info: info("exited", started.Format(time.RFC3339Nano), nil), want: ended},
		{name: "never started", info: info("created", "0001-01-01T00:00:00Z", nil), want: base},
		{
			name:    "no run id",
			info:    info("running", "", func(l map[string]string) { delete(l, "ferry.run_id") }),
			wantErr: "label ferry.run_id is missing",
		},
		{
			name:    "bad attempt",
			info:    info("running", "", func(l map[string]string) { l["ferry.attempt"] = "x" }),
			wantErr: "label ferry.attempt",
		},
		{
			name:    "negative timeout",
			info:    info("running", "", func(l map[string]string) { l["ferry.timeout_ms"] = "-1" }),
			wantErr: `label ferry.timeout_ms: "-1" is not a duration in milliseconds`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := survivorOf(tt.info)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("survivorOf: err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("survivorOf: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("survivor mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
