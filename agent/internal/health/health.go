// Package health serves the agent's operational endpoints: /healthz (the
// process is up), /readyz (the agent is connected and takes work) and
// /metrics (a few gauges and counters in the Prometheus text format).
//
// The agent listens on no port unless an operator asks for these endpoints.
// They expose counts only: never a run's parameters, environment or logs.
//
// Known limitation: the metrics are written by hand in the Prometheus text
// format rather than with the Prometheus client library, so Go runtime and
// process metrics are not exported.
package health

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Kind is a metric's Prometheus type.
type Kind string

// The metric types the agent exports.
const (
	Gauge   Kind = "gauge"
	Counter Kind = "counter"
)

// Metric is one unlabelled metric, read when /metrics is scraped.
type Metric struct {
	// Name is the metric name, such as "ferry_agent_runs_active".
	Name string
	// Help is the one-line description.
	Help string
	// Kind is the metric's type.
	Kind Kind
	// Value reads the current value; it must be safe for concurrent use.
	Value func() float64
}

// Handler returns the handler of /healthz, /readyz and /metrics. ready
// reports whether the agent is ready; it must be safe for concurrent use.
func Handler(metrics []Metric, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready() {
			writeText(w, http.StatusOK, "ready\n")
			return
		}
		writeText(w, http.StatusServiceUnavailable, "not ready\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		var b strings.Builder
		for _, m := range metrics {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", m.Name, m.Help, m.Name, m.Kind, m.Name, m.Value())
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(w, b.String())
	})
	return mux
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}
