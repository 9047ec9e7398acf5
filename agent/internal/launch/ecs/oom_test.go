package ecs

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func TestOutcomeOfOOMNamesMemory(t *testing.T) {
	t.Parallel()
	const reason = "OutOfMemoryError: Container killed due to memory usage"
	tests := []struct {
		name   string
		memory *string
		want   string
	}{
		{"task memory known", aws.String("512"), "out of memory: the task's limit is 512 MiB: " + reason},
		{"task memory unknown", nil, "out of memory: " + reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := types.Task{Memory: tt.memory, Containers: []types.Container{
				{Name: aws.String("run"), ExitCode: aws.Int32(137), Reason: aws.String(reason)},
			}}
			want := launch.Outcome{ExitCode: 137, Kind: launch.OutcomeFailed, Message: tt.want}
			if got := outcomeOf(task, "run"); got != want {
				t.Errorf("outcomeOf = %+v, want %+v", got, want)
			}
		})
	}
}
