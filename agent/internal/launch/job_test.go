package launch_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func TestJobValidate(t *testing.T) {
	t.Parallel()
	valid := launch.Job{RunID: "run-1", Attempt: 1, Command: []string{"true"}}
	tests := []struct {
		name    string
		edit    func(*launch.Job)
		wantErr string
	}{
		{name: "valid", edit: func(*launch.Job) {}},
		{name: "no run id", edit: func(j *launch.Job) { j.RunID = "" }, wantErr: "run id is empty"},
		{name: "no command", edit: func(j *launch.Job) { j.Command = nil }, wantErr: "command is empty"},
		{name: "empty program", edit: func(j *launch.Job) { j.Command = []string{"", "x"} }, wantErr: "command is empty"},
		{name: "relative working directory", edit: func(j *launch.Job) { j.WorkingDir = "tmp" }, wantErr: `working directory "tmp" is not an absolute path`},
		{name: "negative timeout", edit: func(j *launch.Job) { j.Timeout = -time.Second }, wantErr: "timeout -1s is negative"},
		{name: "negative grace", edit: func(j *launch.Job) { j.StopGrace = -time.Second }, wantErr: "stop grace -1s is negative"},
		{name: "empty env name", edit: func(j *launch.Job) { j.Env = map[string]string{"": "x"} }, wantErr: "name is empty"},
		{name: "env name with =", edit: func(j *launch.Job) { j.Env = map[string]string{"A=B": "x"} }, wantErr: `"A=B" contains '='`},
		{name: "env value with NUL", edit: func(j *launch.Job) { j.Env = map[string]string{"A": "x\x00"} }, wantErr: "A contains a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := valid
			tt.edit(&job)
			err := job.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() error = %v", err)
				}
				return
			}
			if !errors.Is(err, launch.ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() error = %v, want ErrInvalidJob containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestJobEffectiveStopGrace(t *testing.T) {
	t.Parallel()
	if got := (launch.Job{}).EffectiveStopGrace(); got != launch.DefaultStopGrace {
		t.Errorf("zero StopGrace: got %s, want %s", got, launch.DefaultStopGrace)
	}
	if got := (launch.Job{StopGrace: time.Second}).EffectiveStopGrace(); got != time.Second {
		t.Errorf("StopGrace 1s: got %s", got)
	}
}

func TestJobEnviron(t *testing.T) {
	t.Parallel()
	job := launch.Job{
		RunID:          "run-1",
		Attempt:        3,
		ParametersJSON: `{"n": 1}`,
		Env: map[string]string{
			"LANG":         "fr_FR.UTF-8",
			"GREETING":     "a=b",
			"FERRY_RUN_ID": "spoofed",
		},
	}
	got, err := job.Environ([]string{"PATH=/bin", "LANG=C.UTF-8", "EMPTY="})
	if err != nil {
		t.Fatalf("Environ() error = %v", err)
	}
	want := []string{
		"EMPTY=",
		"FERRY_ATTEMPT=3",
		`FERRY_PARAMETERS={"n": 1}`,
		"FERRY_RUN_ID=run-1",
		"GREETING=a=b",
		"LANG=fr_FR.UTF-8",
		"PATH=/bin",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Environ() mismatch (-want +got):\n%s", diff)
	}

	if _, err := job.Environ([]string{"NOEQUALS"}); err == nil || errors.Is(err, launch.ErrInvalidJob) {
		t.Errorf("Environ() with a malformed base entry: error = %v, want a plain error", err)
	}
	job.Env = map[string]string{"A\x00": "x"}
	if _, err := job.Environ(nil); !errors.Is(err, launch.ErrInvalidJob) {
		t.Errorf("Environ() with a malformed job variable: error = %v, want ErrInvalidJob", err)
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	got := []string{
		launch.StreamStdout.String(), launch.StreamStderr.String(), launch.StreamSystem.String(), launch.Stream(0).String(),
		launch.OutcomeSucceeded.String(), launch.OutcomeFailed.String(), launch.OutcomeTimedOut.String(),
		launch.OutcomeCancelled.String(), launch.OutcomeCrashed.String(), launch.OutcomeRejected.String(),
		launch.OutcomeKind(0).String(),
	}
	want := []string{
		"stdout", "stderr", "system", "Stream(0)",
		"Succeeded", "Failed", "TimedOut", "Cancelled", "Crashed", "Rejected", "OutcomeKind(0)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String() mismatch (-want +got):\n%s", diff)
	}
}
