package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestECSTuning(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FERRY_AGENT_TOKEN": "t", "FERRY_SERVER": "http://127.0.0.1:8080"}
	base := "ecs:\n  cluster: ferry\n  subnets: [s]\n  log_group: /ferry/runs\n  cpu: 256\n  memory: 512\n"
	tests := []struct {
		name    string
		content string
		// want are the poll interval, log interval and call timeout read.
		want [3]time.Duration
		// wantErr are parts of the error, when one is expected.
		wantErr []string
	}{
		{
			name:    "defaults",
			content: base,
		},
		{
			name:    "set",
			content: base + "  poll_interval: 250ms\n  log_interval: 100ms\n  call_timeout: 3s\n",
			want:    [3]time.Duration{250 * time.Millisecond, 100 * time.Millisecond, 3 * time.Second},
		},
		{
			name:    "negative",
			content: base + "  poll_interval: -1s\n",
			wantErr: []string{"agent.yaml:7:18:", "ecs.poll_interval: -1s is negative"},
		},
		{
			name:    "not a duration",
			content: base + "  call_timeout: soon\n",
			wantErr: []string{"agent.yaml", "line 7", "soon"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := writeFile(t, t.TempDir(), "agent.yaml", tt.content)
			c, err := parseConfig([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("parseConfig succeeded, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			got := [3]time.Duration{c.ecs.pollInterval, c.ecs.logInterval, c.ecs.callTimeout}
			if got != tt.want {
				t.Errorf("poll, log, call = %v, want %v", got, tt.want)
			}
		})
	}
}
