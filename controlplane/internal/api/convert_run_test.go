package api

import (
	"testing"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

func TestNameCacheIsLate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		state    string
		stateNm  string
		expected time.Time
		noClock  bool
		want     bool
	}{
		{"due just now", "SCHEDULED", "Scheduled", now, false, false},
		{"short of the threshold", "SCHEDULED", "Scheduled", now.Add(-29 * time.Second), false, false},
		{"at the threshold", "SCHEDULED", "Scheduled", now.Add(-30 * time.Second), false, true},
		{"long past due", "SCHEDULED", "Scheduled", now.Add(-time.Hour), false, true},
		{"in the future", "SCHEDULED", "Scheduled", now.Add(time.Hour), false, false},
		{"awaiting a retry", "SCHEDULED", "AwaitingRetry", now.Add(-time.Hour), false, false},
		{"pending", "PENDING", "Pending", now.Add(-time.Hour), false, false},
		{"running", "RUNNING", "Running", now.Add(-time.Hour), false, false},
		{"no clock", "SCHEDULED", "Scheduled", now.Add(-time.Hour), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newNameCache(nil)
			if !tt.noClock {
				c.clock, c.lateAfter = clock.NewFake(now), 30*time.Second
			}
			r := db.Run{State: tt.state, StateName: tt.stateNm, ExpectedStartTime: tt.expected}
			if got := c.isLate(r); got != tt.want {
				t.Errorf("isLate = %v, want %v", got, tt.want)
			}
		})
	}
}
