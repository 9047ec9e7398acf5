package limits

import (
	"testing"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

func TestReasonMessagesCount(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	stale := now.Add(-time.Minute)
	draining := db.AgentListRow{Capacity: 1, LastHeartbeatTime: now, Draining: true}
	busy := db.AgentListRow{Capacity: 1, ActiveRuns: 1, LastHeartbeatTime: now}
	agents := func(a ...db.AgentListRow) string {
		if r := agentReason(a, "local", stale); r != nil {
			return r.Message
		}
		return ""
	}
	tests := []struct {
		name, got, want string
	}{
		{"one run ahead", runsAheadMessage(1, "local"),
			"1 due run of pool local comes first (queue priority, run priority, then expected start)"},
		{"two runs ahead", runsAheadMessage(2, "local"),
			"2 due runs of pool local come first (queue priority, run priority, then expected start)"},
		{"one agent draining", agents(draining), "the only online agent of work pool local is draining"},
		{"two agents draining", agents(draining, draining), "all 2 online agents of work pool local are draining"},
		{"one agent busy", agents(busy, draining), "the only accepting agent of work pool local is at capacity"},
		{"two agents busy", agents(busy, busy), "all 2 accepting agents of work pool local are at capacity"},
		{"one slot", fullLimitMessage("limit/db", 1, 1), "concurrency limit limit/db is full: 1 of 1 slot held"},
		{"two slots", fullLimitMessage("limit/db", 2, 2), "concurrency limit limit/db is full: 2 of 2 slots held"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
