package limits

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// ids returns n fixed run ids, so tables can refer to them by index.
func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.UUID{byte(i + 1)}
	}
	return out
}

func TestAdmit(t *testing.T) {
	t.Parallel()
	r := ids(5)
	qa, qb, pool := Scope{KindQueue, uuid.UUID{0xa}}, Scope{KindQueue, uuid.UUID{0xb}}, Scope{KindPool, uuid.UUID{0xf}}
	tests := []struct {
		name      string
		items     []item
		free      map[Scope]int32
		max       int
		admitted  []uuid.UUID
		refusedBy map[uuid.UUID]Scope
	}{
		{
			name:     "no limits admits up to max",
			items:    []item{{id: r[0]}, {id: r[1]}, {id: r[2]}},
			free:     map[Scope]int32{},
			max:      2,
			admitted: []uuid.UUID{r[0], r[1]},
		},
		{
			name:      "a queue with one slot takes the first run only",
			items:     []item{{r[0], []Scope{qa}}, {r[1], []Scope{qa}}, {r[2], []Scope{qb}}},
			free:      map[Scope]int32{qa: 1, qb: 5},
			max:       10,
			admitted:  []uuid.UUID{r[0], r[2]},
			refusedBy: map[uuid.UUID]Scope{r[1]: qa},
		},
		{
			name:      "the pool limit binds across queues",
			items:     []item{{r[0], []Scope{pool, qa}}, {r[1], []Scope{pool, qb}}, {r[2], []Scope{pool, qb}}},
			free:      map[Scope]int32{pool: 2, qa: 1, qb: 5},
			max:       10,
			admitted:  []uuid.UUID{r[0], r[1]},
			refusedBy: map[uuid.UUID]Scope{r[2]: pool},
		},
		{
			name:      "a refused run takes no slot of its other scopes",
			items:     []item{{r[0], []Scope{qa, pool}}, {r[1], []Scope{qb, pool}}},
			free:      map[Scope]int32{qa: 0, pool: 1, qb: 1},
			max:       10,
			admitted:  []uuid.UUID{r[1]},
			refusedBy: map[uuid.UUID]Scope{r[0]: qa},
		},
		{
			name:      "a limit already over its slots refuses everything",
			items:     []item{{r[0], []Scope{qa}}},
			free:      map[Scope]int32{qa: -2},
			max:       10,
			refusedBy: map[uuid.UUID]Scope{r[0]: qa},
		},
		{
			name:     "a scope missing from the budget is unlimited",
			items:    []item{{r[0], []Scope{qb}}, {r[1], []Scope{qb}}},
			free:     map[Scope]int32{qa: 0},
			max:      10,
			admitted: []uuid.UUID{r[0], r[1]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := budget{free: tt.free, limit: map[Scope]int32{}}
			admitted, refused := b.admit(tt.items, tt.max)
			if diff := cmp.Diff(tt.admitted, admitted); diff != "" {
				t.Errorf("admitted (-want +got):\n%s", diff)
			}
			got := make(map[uuid.UUID]Scope)
			for id, f := range refused {
				got[id] = f.Scope
			}
			if tt.refusedBy == nil {
				tt.refusedBy = map[uuid.UUID]Scope{}
			}
			if diff := cmp.Diff(tt.refusedBy, got); diff != "" {
				t.Errorf("refused (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollide(t *testing.T) {
	t.Parallel()
	r := ids(6)
	w := func(i int) collisionRun { return collisionRun{id: r[i], state: "SCHEDULED", waiting: true} }
	a := func(i int, state string) collisionRun { return collisionRun{id: r[i], state: state} }
	tests := []struct {
		name     string
		strategy string
		limit    int
		runs     []collisionRun
		want     []uuid.UUID
	}{
		{"enqueue cancels nothing", StrategyEnqueue, 1, []collisionRun{w(0), a(1, "RUNNING")}, nil},
		{"nothing waiting", StrategyCancelNew, 1, []collisionRun{a(1, "RUNNING"), a(2, "RUNNING")}, nil},
		{"cancel_new with a free slot", StrategyCancelNew, 2, []collisionRun{w(0), a(1, "RUNNING")}, nil},
		{"cancel_new when full", StrategyCancelNew, 1, []collisionRun{w(0), a(1, "RUNNING")}, []uuid.UUID{r[0]}},
		{"cancel_new keeps what fits", StrategyCancelNew, 2, []collisionRun{w(0), w(2), w(3)}, []uuid.UUID{r[3]}},
		{"cancel_new counts cancelling runs", StrategyCancelNew, 1, []collisionRun{w(0), a(1, "CANCELLING")}, []uuid.UUID{r[0]}},
		{"cancel_oldest cancels the oldest active", StrategyCancelOldest, 2,
			[]collisionRun{w(0), a(1, "RUNNING"), a(2, "PENDING")}, []uuid.UUID{r[1]}},
		{"cancel_oldest with room cancels nothing", StrategyCancelOldest, 3,
			[]collisionRun{w(0), a(1, "RUNNING"), a(2, "PENDING")}, nil},
		{"cancel_oldest does not cancel twice", StrategyCancelOldest, 1,
			[]collisionRun{w(0), a(1, "CANCELLING")}, nil},
		{"cancel_oldest keeps the newest waiting", StrategyCancelOldest, 1,
			[]collisionRun{w(0), w(2), a(1, "RUNNING")}, []uuid.UUID{r[0], r[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, collide(tt.strategy, tt.limit, tt.runs)); diff != "" {
				t.Errorf("cancelled (-want +got):\n%s", diff)
			}
		})
	}
}
