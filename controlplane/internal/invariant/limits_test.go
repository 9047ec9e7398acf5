package invariant

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

func TestCheckConcurrencyLimit(t *testing.T) {
	t.Parallel()
	type runCase struct {
		row     row
		history []entry
	}
	pending := row{"PENDING", "Pending", 1, 5}
	done := row{"COMPLETED", "Completed", 1, 0}
	tests := []struct {
		name       string
		queueLimit int
		runs       []runCase
		want       []Rule
	}{
		{
			name:       "two runs claimed at once in a queue of one slot",
			queueLimit: 1,
			runs:       []runCase{{pending, []entry{created, claimed}}, {pending, []entry{created, claimed}}},
			want:       []Rule{RuleConcurrencyLimit},
		},
		{
			name:       "the second claim after the first run ended",
			queueLimit: 1,
			runs: []runCase{
				{done, []entry{created, claimed, started, completed}},
				{pending, []entry{created, claimed}},
			},
		},
		{
			name:       "two runs within two slots",
			queueLimit: 2,
			runs:       []runCase{{pending, []entry{created, claimed}}, {pending, []entry{created, claimed}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			if _, err := f.pool.Exec(context.Background(),
				`UPDATE work_queues SET concurrency_limit = $1 WHERE id = $2`, tt.queueLimit, f.queueID); err != nil {
				t.Fatalf("set queue limit: %v", err)
			}
			for _, r := range tt.runs {
				f.addRun(t, r.row, r.history, nil)
			}
			got := rulesOf(t, Check(context.Background(), db.New(f.pool)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}
