package schedule

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/controlplane/internal/schedule/spec"
)

func TestMakePlan(t *testing.T) {
	t.Parallel()
	daily, err := spec.ParseCron("0 6 * * *", "UTC")
	if err != nil {
		t.Fatalf("ParseCron: %v", err)
	}
	minutely, err := spec.ParseCron("* * * * *", "UTC")
	if err != nil {
		t.Fatalf("ParseCron: %v", err)
	}
	now := utc(2025, 6, 1, 12, 0, 30)
	tests := []struct {
		name string
		in   planInput
		want plan
	}{
		{
			name: "steady state creates only what is new",
			in: planInput{spec: minutely, cursor: utc(2025, 6, 1, 12, 3, 0), now: now,
				horizon: time.Hour, maxAhead: 5},
			want: plan{create: []time.Time{utc(2025, 6, 1, 12, 4, 0), utc(2025, 6, 1, 12, 5, 0)},
				cursor: utc(2025, 6, 1, 12, 5, 0)},
		},
		{
			name: "the horizon bounds creation",
			in:   planInput{spec: daily, cursor: now, now: now, horizon: time.Hour, maxAhead: 10},
			want: plan{cursor: now},
		},
		{
			name: "latest after a year down finds yesterday's fire time",
			in: planInput{spec: daily, cursor: utc(2024, 6, 1, 12, 0, 0), now: now,
				horizon: time.Hour, maxAhead: 10, keepMissed: 1},
			want: plan{create: []time.Time{utc(2025, 6, 1, 6, 0, 0)}, cursor: now},
		},
		{
			name: "all after a year down keeps the newest few",
			in: planInput{spec: daily, cursor: utc(2024, 6, 1, 12, 0, 0), now: now,
				horizon: time.Hour, maxAhead: 10, keepMissed: 3},
			want: plan{create: []time.Time{utc(2025, 5, 30, 6, 0, 0), utc(2025, 5, 31, 6, 0, 0), utc(2025, 6, 1, 6, 0, 0)},
				cursor: now},
		},
		{
			name: "a fire time exactly now is due, not missed",
			in: planInput{spec: minutely, cursor: utc(2025, 6, 1, 11, 59, 0), now: utc(2025, 6, 1, 12, 0, 0),
				horizon: time.Minute, maxAhead: 10},
			want: plan{create: []time.Time{utc(2025, 6, 1, 12, 0, 0), utc(2025, 6, 1, 12, 1, 0)},
				cursor: utc(2025, 6, 1, 12, 1, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := makePlan(tt.in)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(plan{})); diff != "" {
				t.Errorf("makePlan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLastBeforeStopsOnAScanLimit(t *testing.T) {
	t.Parallel()
	every, err := spec.NewInterval(time.Second, utc(2000, 1, 1, 0, 0, 0), "")
	if err != nil {
		t.Fatalf("NewInterval: %v", err)
	}
	got, cut := lastBefore(every, utc(2024, 1, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0), maxCatchUpScan+1)
	if !cut || got != nil {
		t.Errorf("lastBefore = %d times, cut %v; want none and cut", len(got), cut)
	}
}
