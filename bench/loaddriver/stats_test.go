package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", ms(7), 99, 7 * time.Millisecond},
		{"median of unsorted", ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{"nearest rank rounds up", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p99 of 200 is the 198th", ms(seq(200)...), 99, 198 * time.Millisecond},
		{"p100 is the maximum", ms(3, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// seq returns 1..n.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestSelectPhases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{list: "create,memory", want: []string{"memory", "create"}},
		{list: " logs , latency ,", want: []string{"latency", "logs"}},
		{list: "memory,latency,e2e,logs,docker,authz,create,ui", want: allPhases},
		{list: "ui,create", want: []string{"create", "ui"}},
		{list: "docker,e2e", want: []string{"e2e", "docker"}},
		{list: "", wantErr: true},
		{list: "memory,warp", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			t.Parallel()
			got, err := selectPhases(tt.list)
			if (err != nil) != tt.wantErr {
				t.Fatalf("selectPhases(%q) error = %v, want error %v", tt.list, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("selectPhases(%q) (-want +got):\n%s", tt.list, diff)
			}
		})
	}
}

func TestFormatValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{0.512, "0.51"},
		{12.44, "12.4"},
		{4128.6, "4129"},
	}
	for _, tt := range tests {
		if got := formatValue(tt.v); got != tt.want {
			t.Errorf("formatValue(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
