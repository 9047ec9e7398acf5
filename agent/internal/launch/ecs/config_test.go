package ecs

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/ecstask"
)

func TestReservedTagsLeaveRoomForTemplates(t *testing.T) {
	t.Parallel()
	// ECS allows 50 tags on a task; the template's share is ecstask.MaxTags.
	if got := len(reservedTags) + ecstask.MaxTags; got != 50 {
		t.Errorf("reserved tags (%d) + ecstask.MaxTags (%d) = %d, want ECS's limit of 50",
			len(reservedTags), ecstask.MaxTags, got)
	}
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	container := func(code *int32, reason string) []types.Container {
		return []types.Container{
			{Name: aws.String("sidecar"), ExitCode: aws.Int32(9)},
			{Name: aws.String("run"), ExitCode: code, Reason: aws.String(reason)},
		}
	}
	tests := []struct {
		name string
		task types.Task
		want launch.Outcome
	}{
		{"exit 0", types.Task{Containers: container(aws.Int32(0), "")},
			launch.Outcome{ExitCode: 0, Kind: launch.OutcomeSucceeded, Message: "exited with code 0"}},
		{"exit 2", types.Task{Containers: container(aws.Int32(2), "")},
			launch.Outcome{ExitCode: 2, Kind: launch.OutcomeFailed, Message: "exited with code 2"}},
		{"oom", types.Task{Containers: container(aws.Int32(137), "OutOfMemoryError: Container killed due to memory usage")},
			launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed,
				Message: "out of memory: OutOfMemoryError: Container killed due to memory usage"}},
		{"pull", types.Task{StopCode: types.TaskStopCodeTaskFailedToStart,
			StoppedReason: aws.String("CannotPullContainerError: not found"), Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeFailed,
				Message: "image pull failed: CannotPullContainerError: not found"}},
		{"spot", types.Task{StopCode: types.TaskStopCodeSpotInterruption, StoppedReason: aws.String("gone"),
			Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed, Message: "ECS stopped the task: gone"}},
		{"no exit code", types.Task{StoppedReason: aws.String("ResourceInitializationError: x"), Containers: container(nil, "")},
			launch.Outcome{ExitCode: launch.ExitCodeUnknown, Kind: launch.OutcomeCrashed,
				Message: "task stopped without an exit code: ResourceInitializationError: x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := outcomeOf(tt.task, "run"); got != tt.want {
				t.Errorf("outcomeOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClientTokenAndStartedBy(t *testing.T) {
	t.Parallel()
	a, b := clientToken("run-1", 1), clientToken("run-1", 2)
	if a == b || a != clientToken("run-1", 1) || len(a) > 64 {
		t.Errorf("client tokens %q and %q: want distinct per attempt, stable, at most 64 characters", a, b)
	}
	if got := startedBy("0191a2b3-c4d5-7e6f-8091-a2b3c4d5e6f7"); got != "ferry-0191a2b3-c4d5-7e6f-8091-a2b3c4d5" {
		t.Errorf("startedBy = %q", got)
	}
}
