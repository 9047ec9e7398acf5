package identity

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter()
	r := Rate{Burst: 2, Every: 10 * time.Second}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 0, true},
		{"a", time.Second, false},
		{"b", time.Second, true},
		{"a", 11 * time.Second, true},
		{"a", 11 * time.Second, false},
		{"a", 60 * time.Second, true},
		{"a", 60 * time.Second, true},
		{"a", 60 * time.Second, false},
	}
	for i, s := range steps {
		if got := l.allow(s.key, r, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: allow(%s, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
}
