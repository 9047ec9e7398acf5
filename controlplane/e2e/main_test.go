package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/invariant"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/dockertest"
)

// TestMain runs the tests, then stops the Docker engine and the PostgreSQL
// cluster they started, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := dockertest.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	}
	if err := dbtest.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// waitTimeout bounds every wait for a condition. It is generous because the
// race detector and a loaded machine slow everything down; a passing test
// never waits that long.
const waitTimeout = 30 * time.Second

// pollInterval is how often a condition is checked again.
const pollInterval = 20 * time.Millisecond

// eventually calls cond until it returns nil or waitTimeout passes, then
// fails the test with the last error.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, waitTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// checkInvariants registers a cleanup that runs the invariant checker over
// the database of pool once everything registered later has stopped.
func checkInvariants(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := invariant.Check(ctx, db.New(pool)); err != nil {
			t.Errorf("invariant check: %v", err)
		}
	})
}

// verboseEnv names the environment variable that, set to 1, prints the
// logs of passing tests too.
const verboseEnv = "FERRY_E2E_VERBOSE"

// testLog collects a test's server logs and prints them only when the test
// failed (or [verboseEnv] is 1), so passing runs stay quiet. Writes after
// the test ended are kept in the buffer, never sent to t.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// newTestLog returns a log that is dumped at cleanup if t failed. Call it
// before starting anything that writes to it.
func newTestLog(t testing.TB) *testLog {
	l := &testLog{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv(verboseEnv) == "1" {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("server and agent logs:\n%s", l.buf.String())
		}
	})
	return l
}

// Write appends p to the log.
func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
