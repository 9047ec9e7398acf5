package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"FERRY_SERVER": "http://127.0.0.1:8080", "FERRY_AGENT_TOKEN": "env-token"}

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{
			name: "from the environment",
			env: map[string]string{
				"FERRY_AGENT_NAME": "edge-1", "FERRY_AGENT_CAPACITY": "7", "FERRY_LOG_LEVEL": "debug",
				"FERRY_AGENT_SHUTDOWN_GRACE": "90s", "FERRY_AGENT_WORK_DIR": dir,
			},
			check: func(t *testing.T, c config) {
				if c.server != "http://127.0.0.1:8080" || c.token != "env-token" || c.name != "edge-1" ||
					c.capacity != 7 || c.logLevel.String() != "DEBUG" || c.shutdownGrace != 90*time.Second ||
					c.workDir != dir || c.metricsAddr != "" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--server", "https://ferry.example.com", "--name", "other", "--capacity", "2"},
			env:  map[string]string{"FERRY_AGENT_NAME": "edge-1", "FERRY_AGENT_CAPACITY": "7"},
			check: func(t *testing.T, c config) {
				if c.server != "https://ferry.example.com" || c.name != "other" || c.capacity != 2 {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "defaults",
			check: func(t *testing.T, c config) {
				wd, err := os.Getwd()
				if err != nil {
					t.Fatal(err)
				}
				if c.capacity != defaultCapacity || c.shutdownGrace != defaultShutdownGrace || c.workDir != wd ||
					!namePattern.MatchString(c.name) || c.insecureHTTP {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "token file",
			env:  map[string]string{"FERRY_AGENT_TOKEN": "", "FERRY_AGENT_TOKEN_FILE": tokenFile},
			check: func(t *testing.T, c config) {
				if c.token != "file-token" {
					t.Errorf("token = %q, want the file's, trimmed", c.token)
				}
			},
		},
		{
			name:  "insecure http to another host when asked",
			args:  []string{"--server", "http://ferry.internal:8080", "--insecure-http"},
			check: func(*testing.T, config) {},
		},
		{name: "plain http to another host", args: []string{"--server", "http://ferry.internal:8080"}, wantErr: "refusing plain HTTP"},
		{name: "no server", env: map[string]string{"FERRY_SERVER": ""}, wantErr: "--server"},
		{name: "no token", env: map[string]string{"FERRY_AGENT_TOKEN": ""}, wantErr: "token is required"},
		{name: "token twice", args: []string{"--token-file", tokenFile}, wantErr: "not both"},
		{name: "empty token file", env: map[string]string{"FERRY_AGENT_TOKEN": "", "FERRY_AGENT_TOKEN_FILE": emptyFile}, wantErr: "is empty"},
		{name: "bad name", args: []string{"--name", "Edge_1"}, wantErr: "agent name"},
		{name: "capacity zero", args: []string{"--capacity", "0"}, wantErr: "capacity"},
		{name: "capacity too large", args: []string{"--capacity", "10001"}, wantErr: "capacity"},
		{name: "bad capacity variable", env: map[string]string{"FERRY_AGENT_CAPACITY": "four"}, wantErr: "FERRY_AGENT_CAPACITY"},
		{name: "bad boolean variable", env: map[string]string{"FERRY_INSECURE_HTTP": "maybe"}, wantErr: "FERRY_INSECURE_HTTP"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "log level"},
		{name: "bad duration variable", env: map[string]string{"FERRY_AGENT_SHUTDOWN_GRACE": "soon"}, wantErr: "a duration"},
		{name: "trusted keys and unsigned orders", args: []string{"--trusted-keys-file", tokenFile, "--allow-unsigned-orders"}, wantErr: "exclude each other"},
		{name: "missing config file", args: []string{"--config", filepath.Join(dir, "nope.yaml")}, wantErr: "read config file"},
		{name: "missing work dir", args: []string{"--work-dir", filepath.Join(dir, "nope")}, wantErr: "work dir"},
		{name: "work dir is a file", args: []string{"--work-dir", tokenFile}, wantErr: "not a directory"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := parseConfig(tt.args, func(k string) string { return env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	t.Parallel()
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestNameFromHost(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"worker-3":                    "worker-3",
		"Worker_3.corp.example.com":   "worker-3",
		"ip-10-0-0-5.ec2.internal":    "ip-10-0-0-5",
		"7eleven":                     "agent-7eleven",
		"":                            "agent",
		"---":                         "agent",
		"trailing-":                   "trailing",
		strings.Repeat("a", 80):       strings.Repeat("a", 63),
		"a" + strings.Repeat("-", 70): "a",
	}
	for host, want := range tests {
		got := nameFromHost(host)
		if got != want {
			t.Errorf("nameFromHost(%q) = %q, want %q", host, got, want)
		}
		if !namePattern.MatchString(got) {
			t.Errorf("nameFromHost(%q) = %q, not a valid name", host, got)
		}
	}
}
