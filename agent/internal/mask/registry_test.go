package mask

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRegistryMasksWhileRegistered(t *testing.T) {
	reg := NewRegistry(DefaultMinLen)
	var buf bytes.Buffer
	log := slog.New(reg.Handler(slog.NewJSONHandler(&buf, nil)))

	log.Info("before", "v", "hunter2-secret")
	if w := reg.Add("run-1", map[string]string{"PASSWORD": "hunter2-secret", "PIN": "12"}); len(w) != 1 || !strings.Contains(w[0], "PIN") {
		t.Errorf("warnings = %q, want one naming PIN", w)
	}
	log.Info("during hunter2-secret", "v", "x hunter2-secret y")
	reg.Remove("run-1")
	log.Info("after", "v", "hunter2-secret")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3", len(lines))
	}
	if !strings.Contains(lines[0], "hunter2-secret") || !strings.Contains(lines[2], "hunter2-secret") {
		t.Errorf("unregistered value was masked: %q", lines)
	}
	if strings.Contains(lines[1], "hunter2-secret") || !strings.Contains(lines[1], Replacement) {
		t.Errorf("registered value leaked: %q", lines[1])
	}
	if got := reg.MaskString("hunter2-secret"); got != "hunter2-secret" {
		t.Errorf("MaskString after Remove = %q", got)
	}
}

func TestNilRegistry(t *testing.T) {
	var reg *Registry
	if got := reg.MaskString("abc"); got != "abc" {
		t.Errorf("nil registry changed the string: %q", got)
	}
	reg.Add("x", map[string]string{"A": "secretvalue"})
	reg.Remove("x")
}
