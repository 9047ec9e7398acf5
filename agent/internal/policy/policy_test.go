package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// dockerInput returns an order the default settings allow, with its job
// changed by edit.
func dockerInput(edit func(job *ferryv1.JobSpec)) Input {
	job := &ferryv1.JobSpec{
		Deployment: "etl",
		Command:    []string{"/etl", "--day", "{{ .day }}"},
		Env:        map[string]string{"LOG_LEVEL": "debug"},
		Image:      "registry.local:5000/team/etl@" + testDigest,
		PoolType:   "docker",
		Container: &ferryv1.ContainerSpec{
			MilliCpus:   500,
			MemoryBytes: 256 << 20,
		},
	}
	if edit != nil {
		edit(job)
	}
	return Input{
		RunID:     "0b7c9a52-5b7e-4d0e-9a43-6a1f8e7f7f10",
		Attempt:   1,
		Job:       job,
		AgentName: "agent-1",
		Pool:      "docker-pool",
	}
}

func newPolicy(t *testing.T, cfg Config) *Policy {
	t.Helper()
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func allowed() Decision { return Decision{Allowed: true, Denials: []string{}} }

func denied(msgs ...string) Decision { return Decision{Denials: msgs} }

func TestBuiltinPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]any
		edit     func(job *ferryv1.JobSpec)
		want     Decision
	}{
		{
			name: "plain order allowed by defaults",
			want: allowed(),
		},
		{
			name: "privileged container denied",
			edit: func(j *ferryv1.JobSpec) { j.Container.Privileged = true },
			want: denied("privileged: deployment etl asks for a privileged container, which this agent does not allow"),
		},
		{
			name:     "privileged container allowed by setting",
			settings: map[string]any{"allow_privileged": true},
			edit:     func(j *ferryv1.JobSpec) { j.Container.Privileged = true },
			want:     allowed(),
		},
		{
			name:     "foreign registry denied",
			settings: map[string]any{"allowed_registries": []string{"registry.local:5000"}},
			edit:     func(j *ferryv1.JobSpec) { j.Image = "evil.example/x" },
			want:     denied("registry: image evil.example/x is not from an allowed registry (allowed: registry.local:5000)"),
		},
		{
			name:     "allowed registry path prefix",
			settings: map[string]any{"allowed_registries": []string{"registry.local:5000/team"}},
			want:     allowed(),
		},
		{
			name:     "registry outside allowed path prefix denied",
			settings: map[string]any{"allowed_registries": []string{"registry.local:5000/team"}},
			edit:     func(j *ferryv1.JobSpec) { j.Image = "registry.local:5000/teamx/etl:1.0" },
			want:     denied("registry: image registry.local:5000/teamx/etl:1.0 is not from an allowed registry (allowed: registry.local:5000/team)"),
		},
		{
			name:     "digest required and missing",
			settings: map[string]any{"require_digest": true},
			edit:     func(j *ferryv1.JobSpec) { j.Image = "registry.local:5000/team/etl:1.0" },
			want:     denied("digest: image registry.local:5000/team/etl:1.0 is not pinned by a sha256 digest"),
		},
		{
			name:     "digest required and present",
			settings: map[string]any{"require_digest": true},
			want:     allowed(),
		},
		{
			name: "secret reference denied by default",
			edit: func(j *ferryv1.JobSpec) { j.Secrets = map[string]string{"TOKEN": "env://FERRY_TOKEN"} },
			want: denied("secret: TOKEN refers to env://FERRY_TOKEN, which is not an allowed secret reference (allowed: none)"),
		},
		{
			name:     "unapproved secret reference denied",
			settings: map[string]any{"allowed_secret_refs": []string{"aws-sm://prod/*"}},
			edit: func(j *ferryv1.JobSpec) {
				j.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://staging/db#password"}
			},
			want: denied("secret: DB_PASSWORD refers to aws-sm://staging/db#password, which is not an allowed secret reference (allowed: aws-sm://prod/*)"),
		},
		{
			name:     "approved secret reference allowed",
			settings: map[string]any{"allowed_secret_refs": []string{"aws-sm://prod/*", "env://FERRY_*"}},
			edit: func(j *ferryv1.JobSpec) {
				j.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password", "TOKEN": "env://FERRY_TOKEN"}
			},
			want: allowed(),
		},
		{
			name:     "mount outside allowed prefix denied",
			settings: map[string]any{"allowed_mount_sources": []string{"/data"}},
			edit: func(j *ferryv1.JobSpec) {
				j.Container.Mounts = []*ferryv1.Mount{
					{Source: "/data/in", Target: "/in", ReadOnly: true},
					{Source: "/etc", Target: "/host-etc"},
				}
			},
			want: denied("mount: source /etc is outside the allowed mount sources (allowed: /data)"),
		},
		{
			name:     "mount climbing out of allowed prefix denied",
			settings: map[string]any{"allowed_mount_sources": []string{"/data"}},
			edit: func(j *ferryv1.JobSpec) {
				j.Container.Mounts = []*ferryv1.Mount{{Source: "/data/../etc", Target: "/in"}}
			},
			want: denied("mount: source /data/../etc is not a clean absolute path"),
		},
		{
			name:     "mount under allowed prefix allowed",
			settings: map[string]any{"allowed_mount_sources": []string{"/data"}},
			edit: func(j *ferryv1.JobSpec) {
				j.Container.Mounts = []*ferryv1.Mount{{Source: "/data/in", Target: "/in", ReadOnly: true}}
			},
			want: allowed(),
		},
		{
			name:     "resources within caps allowed",
			settings: map[string]any{"max_milli_cpus": 1000, "max_memory_bytes": 512 << 20},
			want:     allowed(),
		},
		{
			name:     "resources above caps denied",
			settings: map[string]any{"max_milli_cpus": 1000, "max_memory_bytes": 512 << 20},
			edit: func(j *ferryv1.JobSpec) {
				j.Container.MilliCpus = 2000
				j.Container.MemoryBytes = 1 << 30
			},
			want: denied(
				"resources: cpu limit of 2000 millicpus is above this agent's cap of 1000 millicpus",
				"resources: memory limit of 1073741824 bytes is above this agent's cap of 536870912 bytes",
			),
		},
		{
			name:     "uncapped container denied when agent caps",
			settings: map[string]any{"max_milli_cpus": 1000},
			edit:     func(j *ferryv1.JobSpec) { j.Container = nil },
			want:     denied("resources: the work order sets no cpu limit, but this agent caps cpu at 1000 millicpus"),
		},
		{
			name: "host network denied",
			edit: func(j *ferryv1.JobSpec) { j.Container.Network = "host" },
			want: denied("network: the host network is not allowed (allow_host_network is off)"),
		},
		{
			name:     "host network allowed by setting",
			settings: map[string]any{"allow_host_network": true},
			edit:     func(j *ferryv1.JobSpec) { j.Container.Network = "host" },
			want:     allowed(),
		},
		{
			name:     "network outside allowed list denied",
			settings: map[string]any{"allowed_networks": []string{"etl-net"}},
			edit:     func(j *ferryv1.JobSpec) { j.Container.Network = "bridge" },
			want:     denied("network: network bridge is not an allowed network (allowed: etl-net)"),
		},
		{
			name: "process order skips container rules",
			edit: func(j *ferryv1.JobSpec) {
				j.PoolType = "process"
				j.Image = ""
				j.Container = &ferryv1.ContainerSpec{Privileged: true, Network: "host"}
			},
			want: allowed(),
		},
		{
			name: "process order still checks secret references",
			edit: func(j *ferryv1.JobSpec) {
				j.PoolType = "process"
				j.Secrets = map[string]string{"KEY": "file:///root/.ssh/id_ed25519"}
			},
			want: denied("secret: KEY refers to file:///root/.ssh/id_ed25519, which is not an allowed secret reference (allowed: none)"),
		},
		{
			name: "container order without image denied",
			edit: func(j *ferryv1.JobSpec) { j.Image = "" },
			want: denied("image: the work order names no image"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, Config{Data: tt.settings})
			got, err := p.Evaluate(t.Context(), dockerInput(tt.edit))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateFailsClosed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	failing := writeFile(t, dir, "failing.rego", `package ferry.agent

deny contains "unreachable" if {
	input.run.attempt / 0 > 1
}
`)
	notStrings := writeFile(t, dir, "numbers.rego", `package ferry.agent

deny contains 42 if input.run.attempt > 1
`)
	stringDir := filepath.Join(dir, "string")
	undefinedDir := filepath.Join(dir, "undefined")
	for _, d := range []string{stringDir, undefinedDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, stringDir, "deny.rego", "package ferry.agent\n\ndeny := \"no\"\n")
	writeFile(t, undefinedDir, "deny.rego", "package ferry.agent\n\ndeny := {\"no\"} if input.run.attempt > 1\n")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		cfg     Config
		ctx     context.Context
		in      Input
		wantErr string
	}{
		{
			name: "order without job",
			ctx:  t.Context(),
			in:   Input{RunID: "r", Attempt: 1, AgentName: "agent-1", Pool: "docker-pool"},
		},
		{
			name:    "rule raising an error",
			cfg:     Config{ExtraFiles: []string{failing}},
			ctx:     t.Context(),
			in:      dockerInput(nil),
			wantErr: "div: divide by zero",
		},
		{
			name:    "deny holding a non-string",
			cfg:     Config{ExtraFiles: []string{notStrings}},
			ctx:     t.Context(),
			in:      func() Input { in := dockerInput(nil); in.Attempt = 2; return in }(),
			wantErr: "data.ferry.agent.deny holds a json.Number, not a string",
		},
		{
			name:    "deny that is not a set",
			cfg:     Config{ReplaceDir: stringDir},
			ctx:     t.Context(),
			in:      dockerInput(nil),
			wantErr: "data.ferry.agent.deny is a string, not a set of strings",
		},
		{
			name:    "undefined deny",
			cfg:     Config{ReplaceDir: undefinedDir},
			ctx:     t.Context(),
			in:      dockerInput(nil),
			wantErr: "data.ferry.agent.deny is undefined",
		},
		{
			name:    "cancelled context",
			ctx:     canceled,
			in:      dockerInput(nil),
			wantErr: "context canceled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tt.cfg)
			got, err := p.Evaluate(tt.ctx, tt.in)
			if got.Allowed || len(got.Denials) == 0 {
				t.Fatalf("decision = %+v, want a denial", got)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Evaluate error = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(got.Message(), "policy: evaluation failed") {
				t.Errorf("message = %q, want it to say evaluation failed", got.Message())
			}
		})
	}
}

func TestMalformedInputDenials(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, Config{})
	got, err := p.Evaluate(t.Context(), Input{RunID: "r", Attempt: 1})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	want := []string{
		"input: job must be of type object, not null",
		"input: job.command must be of type array, not null",
	}
	for _, w := range want {
		if !strings.Contains(got.Message(), w) {
			t.Errorf("denials %q lack %q", got.Denials, w)
		}
	}
}

func TestCustomerPolicies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noRoot := writeFile(t, dir, "no_root.rego", `package ferry.agent

deny contains sprintf("user: deployment %s must not run as root", [input.run.deployment]) if {
	input.job.container.user in {"", "root", "0"}
}
`)
	replaceDir := filepath.Join(dir, "replacement")
	if err := os.Mkdir(replaceDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, replaceDir, "only_etl.rego", `package ferry.agent

deny contains sprintf("deployment: %s may not run here", [input.run.deployment]) if {
	input.run.deployment != "etl"
}
`)
	// A test file in the replacement directory is not loaded: if it were,
	// its deny rule would refuse every order.
	writeFile(t, replaceDir, "only_etl_test.rego", `package ferry.agent

deny contains "loaded a test file"
`)

	asUser := func(user string) func(*ferryv1.JobSpec) {
		return func(j *ferryv1.JobSpec) { j.Container.User = user }
	}
	tests := []struct {
		name string
		cfg  Config
		edit func(*ferryv1.JobSpec)
		want Decision
	}{
		{
			name: "extension adds a deny",
			cfg:  Config{ExtraFiles: []string{noRoot}},
			edit: asUser("root"),
			want: denied("user: deployment etl must not run as root"),
		},
		{
			name: "extension allows what it does not deny",
			cfg:  Config{ExtraFiles: []string{noRoot}},
			edit: asUser("1000:1000"),
			want: allowed(),
		},
		{
			name: "extension keeps the built-in rules",
			cfg:  Config{ExtraFiles: []string{noRoot}},
			edit: func(j *ferryv1.JobSpec) { j.Container.Privileged = true; j.Container.User = "1000" },
			want: denied("privileged: deployment etl asks for a privileged container, which this agent does not allow"),
		},
		{
			name: "replacement drops the built-in rules",
			cfg:  Config{ReplaceDir: replaceDir},
			edit: func(j *ferryv1.JobSpec) { j.Container.Privileged = true },
			want: allowed(),
		},
		{
			name: "replacement applies its own rules",
			cfg:  Config{ReplaceDir: replaceDir},
			edit: func(j *ferryv1.JobSpec) { j.Deployment = "report" },
			want: denied("deployment: report may not run here"),
		},
		{
			name: "extension adds to a replacement",
			cfg:  Config{ReplaceDir: replaceDir, ExtraFiles: []string{noRoot}},
			edit: func(j *ferryv1.JobSpec) { j.Deployment = "report"; j.Container.Privileged = true },
			want: denied("deployment: report may not run here", "user: deployment report must not run as root"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tt.cfg)
			got, err := p.Evaluate(t.Context(), dockerInput(tt.edit))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewReportsCompileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	syntax := writeFile(t, dir, "syntax.rego", "package ferry.agent\n\ndeny contains msg if {\n\tmsg := \"x\" +\n}\n")
	unsafe := writeFile(t, dir, "unsafe.rego", "package ferry.agent\n\ndeny contains msg if {\n\tinput.run.id == id\n}\n")
	conflict := writeFile(t, dir, "conflict.rego", "package ferry.agent\n\ndeny := {\"x\"}\n")
	otherPackage := writeFile(t, dir, "other.rego", "package acme.rules\n\ndeny contains \"x\"\n")

	tests := []struct {
		name string
		file string
		want Problem
	}{
		{
			name: "syntax error",
			file: syntax,
			want: Problem{File: syntax, Line: 5, Column: 1, Message: "rego_parse_error: unexpected } token"},
		},
		{
			name: "unsafe variable",
			file: unsafe,
			want: Problem{File: unsafe, Line: 3, Column: 15, Message: "rego_unsafe_var_error: var msg is unsafe"},
		},
		{
			name: "rule clashing with the built-in policy",
			file: conflict,
			want: Problem{File: conflict, Line: 3, Column: 1, Message: "rego_type_error: conflicting rules data.ferry.agent.deny found"},
		},
		{
			name: "extension in another package",
			file: otherPackage,
			want: Problem{
				File: otherPackage, Line: 1, Column: 1,
				Message: "policy extension declares package acme.rules; it must declare package ferry.agent",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(t.Context(), Config{ExtraFiles: []string{tt.file}})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want a *CompileError", err)
			}
			if !containsProblem(ce.Problems, tt.want) {
				t.Errorf("problems = %+v, want one like %+v", ce.Problems, tt.want)
			}
		})
	}
}

// containsProblem reports whether problems holds want, comparing messages
// by prefix since OPA may append detail.
func containsProblem(problems []Problem, want Problem) bool {
	for _, p := range problems {
		if p.File == want.File && p.Line == want.Line && p.Column == want.Column &&
			strings.HasPrefix(p.Message, want.Message) {
			return true
		}
	}
	return false
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	emptyDir := filepath.Join(dir, "empty")
	noDenyDir := filepath.Join(dir, "nodeny")
	for _, d := range []string{emptyDir, noDenyDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, noDenyDir, "allow.rego", "package ferry.agent\n\nallow := true\n")
	commentsOnly := writeFile(t, dir, "comments.rego", "# nothing but a comment\n")
	extension := writeFile(t, dir, "extension.rego", "package ferry.agent\n\ndeny contains \"x\" if input.never\n")

	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{
			name:    "mistyped setting",
			cfg:     Config{Data: map[string]any{"require_digest": "yes"}},
			wantErr: "policy settings: config: setting require_digest must be of type boolean, not string",
		},
		{
			name:    "misspelt setting",
			cfg:     Config{Data: map[string]any{"allowed_registry": []string{"registry.local:5000"}}},
			wantErr: `policy settings: config: unknown setting "allowed_registry"`,
		},
		{
			name:    "setting that is not JSON",
			cfg:     Config{Data: map[string]any{"custom": map[string]any{"f": func() {}}}},
			wantErr: "encode policy settings",
		},
		{
			name:    "missing extension file",
			cfg:     Config{ExtraFiles: []string{filepath.Join(dir, "missing.rego")}},
			wantErr: "read policy extension",
		},
		{
			name:    "extension without a package",
			cfg:     Config{ExtraFiles: []string{commentsOnly}},
			wantErr: "comments.rego:0:0: rego_parse_error: empty module",
		},
		{
			name:    "extension given twice",
			cfg:     Config{ExtraFiles: []string{extension, extension}},
			wantErr: "is given twice",
		},
		{
			name:    "missing replacement directory",
			cfg:     Config{ReplaceDir: filepath.Join(dir, "missing")},
			wantErr: "read replacement policy directory",
		},
		{
			name:    "replacement directory without policy",
			cfg:     Config{ReplaceDir: emptyDir},
			wantErr: "holds no .rego file",
		},
		{
			name:    "replacement without deny rule",
			cfg:     Config{ReplaceDir: noDenyDir},
			wantErr: "policy defines no data.ferry.agent.deny rule",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCompileErrorText(t *testing.T) {
	t.Parallel()
	err := &CompileError{Problems: []Problem{
		{File: "a.rego", Line: 3, Column: 7, Message: "rego_parse_error: unexpected } token"},
		{File: "b.rego", Line: 1, Column: 1, Message: "rego_unsafe_var_error: var x is unsafe"},
	}}
	want := "policy does not compile: a.rego:3:7: rego_parse_error: unexpected } token; " +
		"b.rego:1:1: rego_unsafe_var_error: var x is unsafe"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestInputDocument(t *testing.T) {
	t.Parallel()
	in := dockerInput(func(j *ferryv1.JobSpec) {
		j.Env = map[string]string{"B": "secret-ish value", "A": "1"}
		j.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"}
		j.Container.Mounts = []*ferryv1.Mount{{Source: "/data", Target: "/in", ReadOnly: true}}
	})
	want := map[string]any{
		"run":   map[string]any{"id": in.RunID, "attempt": int64(1), "deployment": "etl", "pool_type": "docker"},
		"agent": map[string]any{"name": "agent-1", "pool": "docker-pool"},
		"job": map[string]any{
			"image":     "registry.local:5000/team/etl@" + testDigest,
			"command":   []string{"/etl", "--day", "{{ .day }}"},
			"env_names": []string{"A", "B"},
			"secrets":   map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password"},
			"container": map[string]any{
				"privileged":   false,
				"user":         "",
				"milli_cpus":   int64(500),
				"memory_bytes": int64(256 << 20),
				"network":      "",
				"mounts":       []any{map[string]any{"source": "/data", "target": "/in", "read_only": true}},
			},
		},
	}
	if diff := cmp.Diff(want, in.document()); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

func TestEvaluateIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, Config{Data: map[string]any{"allowed_registries": []string{"registry.local:5000"}}})
	inputs := []Input{
		dockerInput(nil),
		dockerInput(func(j *ferryv1.JobSpec) { j.Image = "evil.example/x" }),
	}
	errs := make(chan error, 64)
	for i := range cap(errs) {
		go func() {
			got, err := p.Evaluate(t.Context(), inputs[i%2])
			if err == nil && got.Allowed != (i%2 == 0) {
				err = fmt.Errorf("image %s: decision %+v", inputs[i%2].Job.GetImage(), got)
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p, err := New(b.Context(), Config{Data: map[string]any{
		"allowed_registries":    []string{"registry.local:5000"},
		"require_digest":        true,
		"allowed_mount_sources": []string{"/data"},
		"max_milli_cpus":        4000,
		"max_memory_bytes":      8 << 30,
		"allowed_secret_refs":   []string{"env://FERRY_*", "aws-sm://prod/*"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	in := dockerInput(func(j *ferryv1.JobSpec) {
		j.Secrets = map[string]string{"DB_PASSWORD": "aws-sm://prod/db#password", "TOKEN": "env://FERRY_TOKEN"}
		j.Container.Mounts = []*ferryv1.Mount{{Source: "/data/in", Target: "/in", ReadOnly: true}}
	})
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Evaluate(b.Context(), in)
		if err != nil || !d.Allowed {
			b.Fatalf("Evaluate = %+v, %v", d, err)
		}
	}
}
