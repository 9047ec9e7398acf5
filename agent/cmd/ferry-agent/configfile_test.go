package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch/docker"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "agent.yaml", `
server: https://file.example.com
capacity: 3
shutdown_grace: 45s
trusted_keys_file: keys/trusted
docker:
  host: unix:///file/docker.sock
`)
	// Only the settings under test vary; the rest make the config valid.
	base := map[string]string{"FERRY_AGENT_TOKEN": "t"}

	// got reads the settings the cases look at.
	type got struct {
		Server        string
		Capacity      int
		ShutdownGrace time.Duration
		TrustedKeys   string
		DockerHost    string
	}
	defaults := got{Capacity: defaultCapacity, ShutdownGrace: defaultShutdownGrace}
	fromFile := got{
		Server:        "https://file.example.com",
		Capacity:      3,
		ShutdownGrace: 45 * time.Second,
		TrustedKeys:   filepath.Join(dir, "keys/trusted"),
		DockerHost:    "unix:///file/docker.sock",
	}
	fromEnv := map[string]string{
		"FERRY_SERVER":                  "https://env.example.com",
		"FERRY_AGENT_CAPACITY":          "5",
		"FERRY_AGENT_SHUTDOWN_GRACE":    "1m",
		"FERRY_AGENT_TRUSTED_KEYS_FILE": "env-keys",
		"FERRY_AGENT_DOCKER_HOST":       "unix:///env/docker.sock",
	}
	flags := []string{
		"--server", "https://flag.example.com", "--capacity", "6", "--shutdown-grace", "2m",
		"--trusted-keys-file", "flag-keys", "--docker-host", "unix:///flag/docker.sock",
	}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want got
	}{
		{name: "defaults", env: map[string]string{"DOCKER_HOST": ""}, want: defaults},
		{name: "file over defaults", args: []string{"--config", file}, want: fromFile},
		{name: "file named by variable", env: map[string]string{"FERRY_AGENT_CONFIG": file}, want: fromFile},
		{
			name: "variables over file",
			args: []string{"--config", file},
			env:  fromEnv,
			want: got{"https://env.example.com", 5, time.Minute, "env-keys", "unix:///env/docker.sock"},
		},
		{
			name: "flags over variables",
			args: append([]string{"--config", file}, flags...),
			env:  fromEnv,
			want: got{"https://flag.example.com", 6, 2 * time.Minute, "flag-keys", "unix:///flag/docker.sock"},
		},
		{
			name: "DOCKER_HOST after the file",
			args: []string{"--config", file},
			env:  map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"},
			want: fromFile,
		},
		{
			name: "DOCKER_HOST over the default",
			env:  map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"},
			want: got{Capacity: defaultCapacity, ShutdownGrace: defaultShutdownGrace, DockerHost: "tcp://127.0.0.1:2375"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := with(base)
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := loadConfig(tt.args, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			g := got{c.server, c.capacity, c.shutdownGrace, c.trustedKeysFile, c.docker.host}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if wantConfigured := g.DockerHost != ""; c.docker.configured != wantConfigured {
				t.Errorf("docker configured = %v, want %v", c.docker.configured, wantConfigured)
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "token", "file-token\n")
	writeFile(t, dir, "registry-password", "s3cret\n")
	writeFile(t, dir, "ghcr-token", "refresh-token\n")

	file := writeFile(t, dir, "agent.yaml", `# A full config file.
server: https://ferry.example.com
token_file: token
name: edge-7
capacity: 8
work_dir: .
insecure_http: false
log_level: warn
metrics_addr: 127.0.0.1:9090
shutdown_grace: 90s
allow_unsigned_orders: true
docker:
  host: unix:///run/docker.sock
  network: ferry
  registry_auth:
    "registry.local:5000":
      username: ferry
      password_file: registry-password
    ghcr.io:
      identity_token_file: ghcr-token
policy:
  config:
    allowed_registries: ["registry.local:5000"]
    require_digest: true
    max_memory_bytes: 2147483648
    custom: {team: data}
  extra_files: [extra.rego]
  replace_dir: ""
secrets:
  aws_endpoint: http://127.0.0.1:4566
  min_mask_length: 6
`)
	c, err := parseConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	type summary struct {
		Server, Token, Name, WorkDir, MetricsAddr, Level string
		Capacity                                         int
		Grace                                            time.Duration
		AllowUnsigned                                    bool
		DockerHost, Network                              string
		Credentials                                      map[string]docker.RegistryAuth
		PolicyData                                       map[string]any
		ExtraFiles                                       []string
		PolicySource, AWSEndpoint                        string
		MinMask                                          int
	}
	got := summary{
		c.server, c.token, c.name, c.workDir, c.metricsAddr, c.logLevel.String(),
		c.capacity, c.shutdownGrace, c.allowUnsigned, c.docker.host, c.docker.network,
		c.docker.credentials, c.policy.Data, c.policy.ExtraFiles, c.policy.source,
		c.secrets.awsEndpoint, c.secrets.minMaskLength,
	}
	want := summary{
		Server: "https://ferry.example.com", Token: "file-token", Name: "edge-7", WorkDir: dir,
		MetricsAddr: "127.0.0.1:9090", Level: "WARN", Capacity: 8, Grace: 90 * time.Second,
		AllowUnsigned: true, DockerHost: "unix:///run/docker.sock", Network: "ferry",
		Credentials: map[string]docker.RegistryAuth{
			"registry.local:5000": {Username: "ferry", Password: "s3cret"},
			"ghcr.io":             {IdentityToken: "refresh-token"},
		},
		PolicyData: map[string]any{
			"allowed_registries": []any{"registry.local:5000"},
			"require_digest":     true,
			"max_memory_bytes":   2147483648,
			"custom":             map[string]any{"team": "data"},
		},
		ExtraFiles:   []string{filepath.Join(dir, "extra.rego")},
		PolicySource: file + ":23:5",
		AWSEndpoint:  "http://127.0.0.1:4566",
		MinMask:      6,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "password", "pw")
	env := map[string]string{"FERRY_AGENT_TOKEN": "t", "FERRY_SERVER": "http://127.0.0.1:8080"}

	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{
			name:    "unknown key",
			content: "server: http://127.0.0.1:8080\ncapacty: 3\n",
			want:    []string{"agent.yaml:2:1:", `unknown key "capacty"`, "known keys:", "capacity"},
		},
		{
			name:    "unknown nested key",
			content: "docker:\n  host: unix:///d.sock\n  netwrok: x\n",
			want:    []string{"agent.yaml:3:3:", `unknown key "netwrok" in docker`},
		},
		{
			name:    "password inline",
			content: "docker:\n  registry_auth:\n    ghcr.io:\n      username: u\n      password: hunter22\n",
			want:    []string{"agent.yaml:5:7:", `key "password"`, "is refused", "password_file"},
		},
		{
			name:    "token inline",
			content: "token: abc\n",
			want:    []string{"agent.yaml:1:1:", `key "token" is refused`, "token_file"},
		},
		{
			name:    "several problems at once",
			content: "a: 1\nb: 2\n",
			want:    []string{"agent.yaml:1:1:", "agent.yaml:2:1:"},
		},
		{
			name:    "bad value",
			content: "capacity: four\n",
			want:    []string{"agent.yaml:1:11: capacity:", `"four" is not a whole number`},
		},
		{
			name:    "bad boolean",
			content: "allow_unsigned_orders: yes please\n",
			want:    []string{"agent.yaml:1:24: allow_unsigned_orders:", "true or false"},
		},
		{
			name:    "list where a value belongs",
			content: "server:\n  - a\n  - b\n",
			want:    []string{"agent.yaml:2:3:", "server must be a single value, not a list"},
		},
		{
			name:    "section that is not a mapping",
			content: "docker: yes\n",
			want:    []string{"agent.yaml:1:9:", "docker must be a mapping"},
		},
		{
			name:    "policy settings not a mapping",
			content: "policy:\n  config: [1, 2]\n",
			want:    []string{"agent.yaml:2:11:", "policy.config must be a mapping"},
		},
		{
			name:    "yaml syntax",
			content: "server: [\n",
			want:    []string{"agent.yaml", "yaml:"},
		},
		{
			name:    "duplicate key",
			content: "capacity: 1\ncapacity: 2\n",
			want:    []string{"agent.yaml", `"capacity" already defined`},
		},
		{
			name:    "not a mapping",
			content: "- server\n",
			want:    []string{"agent.yaml:1:1:", "the config file must be a mapping"},
		},
		{
			name:    "password file without username",
			content: "docker:\n  registry_auth:\n    ghcr.io:\n      password_file: password\n",
			want:    []string{`docker.registry_auth["ghcr.io"]`, "needs a username"},
		},
		{
			name:    "registry without credentials",
			content: "docker:\n  registry_auth:\n    ghcr.io: {username: u}\n",
			want:    []string{`docker.registry_auth["ghcr.io"]`, "set password_file"},
		},
		{
			name:    "missing password file",
			content: "docker:\n  registry_auth:\n    ghcr.io: {username: u, password_file: nope}\n",
			want:    []string{"password file", "no such file"},
		},
		{
			name:    "mask length too short",
			content: "secrets:\n  min_mask_length: 2\n",
			want:    []string{"min_mask_length 2 is below 4"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Each case in its own directory, so relative paths still reach
			// the shared password file through a link.
			caseDir := filepath.Join(dir, "case", strings.Repeat("x", i+1))
			if err := os.MkdirAll(caseDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, "password"), filepath.Join(caseDir, "password")); err != nil {
				t.Fatal(err)
			}
			file := writeFile(t, caseDir, "agent.yaml", tt.content)
			_, err := parseConfig([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
			if err == nil {
				t.Fatal("parseConfig succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error %q shows the inline password", err)
			}
		})
	}
}

func TestEmptyConfigFile(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "# nothing\n", "~\n"} {
		file := writeFile(t, t.TempDir(), "agent.yaml", content)
		c, err := loadConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Errorf("loadConfig(%q): %v", content, err)
			continue
		}
		if c.capacity != defaultCapacity || c.docker.configured {
			t.Errorf("loadConfig(%q) = %+v, want the defaults", content, c)
		}
	}
}

// TestExampleConfigFile keeps agent.example.yaml valid: every key known,
// every value well formed, and the policy settings accepted by the policy.
func TestExampleConfigFile(t *testing.T) {
	t.Parallel()
	c, err := loadConfig([]string{"--config", "agent.example.yaml"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.server != "https://ferry.example.com" || c.trustedKeysFile != "/etc/ferry/trusted-keys" ||
		len(c.docker.registryAuth) != 2 || c.policy.Data["max_milli_cpus"] != 4000 {
		t.Errorf("config = %+v", c)
	}
	if _, err := newPolicy(context.Background(), c); err != nil {
		t.Errorf("the example's policy settings: %v", err)
	}
}
