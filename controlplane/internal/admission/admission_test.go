package admission

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

var testWorkspace = uuid.MustParse("0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10")

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// plainSpec returns a spec every default setting admits.
func plainSpec() *ferryv1.DeploymentSpec {
	return &ferryv1.DeploymentSpec{
		Pool:    "docker",
		Command: []string{"/etl"},
		Image:   "registry.local:5000/team/etl@" + digest,
		Tags:    []string{"team=data"},
		Secrets: map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"},
		Container: &ferryv1.ContainerSpec{
			MilliCpus: 500, MemoryBytes: 256 << 20,
			Mounts: []*ferryv1.Mount{{Source: "/data", Target: "/in", ReadOnly: true}},
		},
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	strict := map[string]any{
		"allowed_registries":  []string{"registry.local:5000"},
		"require_digest":      true,
		"max_milli_cpus":      1000,
		"max_memory_bytes":    1 << 30,
		"required_tags":       []string{"team=*"},
		"allowed_secret_refs": []string{"aws-sm://prod/*"},
	}
	tests := []struct {
		name     string
		config   map[string]any
		poolType string
		edit     func(s *ferryv1.DeploymentSpec)
		want     []string
	}{
		{name: "defaults admit a plain spec", poolType: "docker"},
		{name: "strict settings admit a plain spec", config: strict, poolType: "docker"},
		{
			name: "privileged refused by default", poolType: "docker",
			edit: func(s *ferryv1.DeploymentSpec) { s.Container.Privileged = true },
			want: []string{"privileged: deployment etl asks for a privileged container, which is not allowed (allow_privileged is off)"},
		},
		{
			name: "privileged allowed by setting", poolType: "docker", config: map[string]any{"allow_privileged": true},
			edit: func(s *ferryv1.DeploymentSpec) { s.Container.Privileged = true },
		},
		{
			name: "host network and docker socket", poolType: "ecs",
			edit: func(s *ferryv1.DeploymentSpec) {
				s.Container.Network = "host"
				s.Container.Mounts = append(s.Container.Mounts, &ferryv1.Mount{Source: "/var/run/docker.sock", Target: "/s"})
			},
			want: []string{
				"mount: source /var/run/docker.sock is a host system path, which may not be mounted",
				"network: deployment etl asks for the host network, which is not allowed (allow_host_network is off)",
			},
		},
		{
			name: "process pools skip container rules", poolType: "process",
			edit: func(s *ferryv1.DeploymentSpec) { s.Container.Privileged = true; s.Image = "" },
		},
		{
			name: "everything the strict settings refuse", config: strict, poolType: "docker",
			edit: func(s *ferryv1.DeploymentSpec) {
				s.Image = "evil.example/x:1"
				s.Tags = nil
				s.Secrets["TOKEN"] = "env://TOKEN"
				s.Container.MilliCpus = 4000
				s.Container.MemoryBytes = 0
			},
			want: []string{
				"digest: image evil.example/x:1 is not pinned by a sha256 digest (require_digest is on)",
				"registry: image evil.example/x:1 is not from an allowed registry (allowed: registry.local:5000)",
				"resources: container.memory_bytes is not set, but max_memory_bytes caps it at 1073741824 bytes",
				"resources: cpu limit of 4000 millicpus is above the cap of 1000 millicpus (max_milli_cpus)",
				"secret: TOKEN refers to env://TOKEN, which is not an allowed secret reference (allowed: aws-sm://prod/*)",
				"tags: deployment etl has no tag matching team=* (required_tags)",
			},
		},
		{
			name: "spec without container", poolType: "docker",
			edit: func(s *ferryv1.DeploymentSpec) { s.Container = nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(context.Background(), Options{Config: tt.config})
			if err != nil {
				t.Fatal(err)
			}
			spec := plainSpec()
			if tt.edit != nil {
				tt.edit(spec)
			}
			got, err := c.Check(context.Background(), testWorkspace, "etl", spec, tt.poolType)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("denials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"unknown setting", map[string]any{"allow_privilege": true}, `config: unknown setting "allow_privilege"`},
		{"wrong type", map[string]any{"max_milli_cpus": "1000"}, "config: setting max_milli_cpus must be of type number, not string"},
		{"not JSON", map[string]any{"required_tags": make(chan int)}, "encode admission settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(context.Background(), Options{Config: tt.config})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestWorkspaceModulesAndFailClosed(t *testing.T) {
	t.Parallel()
	var (
		mods    []Module
		version string
		hookErr error
	)
	c, err := New(context.Background(), Options{WorkspaceModules: func(context.Context, uuid.UUID) ([]Module, string, error) {
		return mods, version, hookErr
	}})
	if err != nil {
		t.Fatal(err)
	}
	check := func() ([]string, error) {
		return c.Check(context.Background(), testWorkspace, "etl", plainSpec(), "docker")
	}

	mods, version = []Module{{Name: "latest", Source: `package ferry.admission.workspace

deny contains "images must not use the latest tag" if endswith(input.spec.image, ":latest")

deny contains "deployment etl is frozen" if input.deployment == "etl"
`}}, "v1"
	got, err := check()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"workspace: deployment etl is frozen"}, got); diff != "" {
		t.Errorf("workspace denials (-want +got):\n%s", diff)
	}

	failures := []struct {
		name    string
		mods    []Module
		version string
		err     error
	}{
		{name: "hook error", err: errors.New("database down"), version: "v2"},
		{name: "evaluation error", version: "v3", mods: []Module{{Name: "broken", Source: `package ferry.admission.workspace

deny contains "never" if to_number(input.deployment) > 0
`}}},
		{name: "wrong package", version: "v4", mods: []Module{{Name: "sneaky", Source: "package ferry.admission\n\nx := 1\n"}}},
		{name: "syntax error", version: "v5", mods: []Module{{Name: "bad", Source: "package ferry.admission.workspace\n\ndeny contains if"}}},
	}
	for _, f := range failures {
		mods, version, hookErr = f.mods, f.version, f.err
		if got, err := check(); err == nil {
			t.Errorf("%s: Check = %v, nil; want an error (fail closed)", f.name, got)
		}
	}

	mods, version, hookErr = nil, "v6", nil
	if got, err := check(); err != nil || len(got) != 0 {
		t.Errorf("without modules: %v, %v; want admitted", got, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Check(ctx, testWorkspace, "etl", plainSpec(), "docker"); err == nil {
		t.Error("Check with a cancelled context succeeded, want an error")
	}
	if _, err := c.Check(context.Background(), testWorkspace, "etl", nil, "docker"); err == nil {
		t.Error("Check of a nil spec succeeded, want an error")
	}
}
