package docker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func TestSpecOf(t *testing.T) {
	t.Parallel()
	job := launch.Job{
		RunID:          "run/1",
		Attempt:        2,
		DeploymentName: "etl",
		Command:        []string{"/bin/etl", "--day={{ .day }}"},
		Env:            map[string]string{"A": "1"},
		WorkingDir:     "/srv",
		ParametersJSON: `{"day": "2025-03-30"}`,
		Timeout:        time.Minute,
		StopGrace:      2500 * time.Millisecond,
		LeaseToken:     11,
		Image:          "etl:1",
		Container: launch.Container{
			User:        "app",
			MilliCPUs:   1500,
			MemoryBytes: 1 << 30,
			Network:     "jobs",
			Mounts:      []launch.Mount{{Source: "/var/data", Target: "/data"}},
			Privileged:  true,
			Labels:      map[string]string{"team": "data"},
		},
	}
	got, err := specOf(job, "agent-1", "default-net")
	if err != nil {
		t.Fatalf("specOf: %v", err)
	}
	grace := 3
	want := spec{
		name: "ferry-run_1-2",
		config: &container.Config{
			Entrypoint: []string{"/bin/etl"},
			Cmd:        []string{"--day=2025-03-30"},
			Env: []string{
				"A=1", "FERRY_ATTEMPT=2", `FERRY_PARAMETERS={"day": "2025-03-30"}`, "FERRY_RUN_ID=run/1",
			},
			WorkingDir: "/srv",
			User:       "app",
			Labels: map[string]string{
				"team":                 "data",
				"ferry.run_id":         "run/1",
				"ferry.attempt":        "2",
				"ferry.agent":          "agent-1",
				"ferry.lease_token":    "11",
				"ferry.timeout_ms":     "60000",
				"ferry.stop_grace_ms":  "2500",
				"ferry.keep_container": "false",
				"ferry.deployment":     "etl",
			},
			StopTimeout: &grace,
		},
		host: &container.HostConfig{
			NetworkMode:   "jobs",
			Privileged:    true,
			Mounts:        []mount.Mount{{Type: mount.TypeBind, Source: "/var/data", Target: "/data"}},
			LogConfig:     container.LogConfig{Type: "json-file"},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			Resources:     container.Resources{NanoCPUs: 1_500_000_000, Memory: 1 << 30, MemorySwap: 1 << 30},
		},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(spec{})); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}

	// Defaults: the launcher's network, no limits.
	job.Container = launch.Container{}
	got, err = specOf(job, "agent-1", "default-net")
	if err != nil {
		t.Fatalf("specOf: %v", err)
	}
	if got.host.NetworkMode != "default-net" {
		t.Errorf("default network = %q, want default-net", got.host.NetworkMode)
	}
	if diff := cmp.Diff(container.Resources{}, got.host.Resources); diff != "" {
		t.Errorf("default resources mismatch (-want +got):\n%s", diff)
	}
}

func TestSpecOfRefuses(t *testing.T) {
	t.Parallel()
	valid := launch.Job{RunID: "run-1", Attempt: 1, Command: []string{"/p"}, Image: "img:1"}
	tests := []struct {
		name    string
		edit    func(*launch.Job)
		wantErr string
	}{
		{name: "no image", edit: func(j *launch.Job) { j.Image = "" }, wantErr: "image is empty"},
		{name: "no command", edit: func(j *launch.Job) { j.Command = nil }, wantErr: "command is empty"},
		{name: "negative cpu", edit: func(j *launch.Job) { j.Container.MilliCPUs = -1 }, wantErr: "cpu limit -1 millicpus is negative"},
		{name: "negative memory", edit: func(j *launch.Job) { j.Container.MemoryBytes = -1 }, wantErr: "memory limit -1 bytes is negative"},
		{
			name:    "relative mount source",
			edit:    func(j *launch.Job) { j.Container.Mounts = []launch.Mount{{Source: "data", Target: "/data"}} },
			wantErr: "must be absolute paths",
		},
		{
			name:    "relative mount target",
			edit:    func(j *launch.Job) { j.Container.Mounts = []launch.Mount{{Source: "/data", Target: "data"}} },
			wantErr: "must be absolute paths",
		},
		{
			name:    "label overriding the launcher's",
			edit:    func(j *launch.Job) { j.Container.Labels = map[string]string{"ferry.run_id": "other"} },
			wantErr: `label "ferry.run_id" uses the prefix "ferry."`,
		},
		{name: "missing parameter", edit: func(j *launch.Job) { j.Command = []string{"/p", "{{ .x }}"} }, wantErr: "render command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := valid
			tt.edit(&job)
			_, err := specOf(job, "agent", "")
			if !errors.Is(err, launch.ErrInvalidJob) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("specOf: err = %v, want one wrapping ErrInvalidJob containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		runID   string
		attempt int32
		want    string
	}{
		{"0b8e2c1a-5f5e-4d6f-9a51-3c1f7b9d2e10", 1, "ferry-0b8e2c1a-5f5e-4d6f-9a51-3c1f7b9d2e10-1"},
		{"a b/c:d", 3, "ferry-a_b_c_d-3"},
		{"ü", 1, "ferry-_-1"},
		{strings.Repeat("r", 100), 2, "ferry-" + strings.Repeat("r", 64) + "-2"},
	}
	for _, tt := range tests {
		if got := containerName(tt.runID, tt.attempt); got != tt.want {
			t.Errorf("containerName(%q, %d) = %q, want %q", tt.runID, tt.attempt, got, tt.want)
		}
	}
}

func TestGraceInSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {10 * time.Second, 10},
	}
	for _, tt := range tests {
		if got := graceInSeconds(tt.d); got != tt.want {
			t.Errorf("graceInSeconds(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
