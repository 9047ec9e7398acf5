package health_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/health"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	metrics := []health.Metric{
		{Name: "ferry_agent_runs_active", Help: "Runs held.", Kind: health.Gauge, Value: func() float64 { return 2 }},
		{Name: "ferry_agent_runs_finished_total", Help: "Runs finished.", Kind: health.Counter, Value: func() float64 { return 17 }},
	}
	srv := httptest.NewServer(health.Handler(metrics, ready.Load))
	t.Cleanup(srv.Close)

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return res.StatusCode, string(body)
	}

	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before ready = %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
	want := `# HELP ferry_agent_runs_active Runs held.
# TYPE ferry_agent_runs_active gauge
ferry_agent_runs_active 2
# HELP ferry_agent_runs_finished_total Runs finished.
# TYPE ferry_agent_runs_finished_total counter
ferry_agent_runs_finished_total 17
`
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Errorf("/metrics = %d, want 200", code)
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("/metrics body (-want +got):\n%s", diff)
	}
	if code, _ := get("/other"); code != http.StatusNotFound {
		t.Errorf("/other = %d, want 404", code)
	}
}
