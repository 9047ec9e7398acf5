package run_test

import (
	"errors"
	"testing"

	"github.com/ferryhq/ferry/controlplane/internal/run"
)

func TestParseState(t *testing.T) {
	t.Parallel()
	for _, s := range run.AllStates() {
		got, err := run.ParseState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v; want %q, nil", s, got, err, s)
		}
	}
	for _, str := range []string{"", "running", "Running", "RUNNING ", "LATE", "AWAITING_RETRY"} {
		if got, err := run.ParseState(str); !errors.Is(err, run.ErrUnknownState) {
			t.Errorf("ParseState(%q) = %q, %v; want ErrUnknownState", str, got, err)
		}
	}
}

func TestAllStatesIsACopy(t *testing.T) {
	t.Parallel()
	a := run.AllStates()
	if len(a) != 8 {
		t.Fatalf("AllStates has %d states, want 8", len(a))
	}
	a[0] = "MUTATED"
	if run.AllStates()[0] != run.StateScheduled {
		t.Error("changing the slice returned by AllStates changed the next result")
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	want := map[run.State]bool{
		run.StateScheduled:  false,
		run.StatePending:    false,
		run.StateRunning:    false,
		run.StateCompleted:  true,
		run.StateFailed:     true,
		run.StateCrashed:    true,
		run.StateCancelling: false,
		run.StateCancelled:  true,
	}
	for _, s := range run.AllStates() {
		w, ok := want[s]
		if !ok {
			t.Errorf("state %s missing from the expectations", s)
		}
		if got := run.IsTerminal(s); got != w {
			t.Errorf("IsTerminal(%s) = %v, want %v", s, got, w)
		}
	}
	if run.IsTerminal("BOGUS") {
		t.Error("IsTerminal(BOGUS) = true")
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	valid := map[run.State][]string{
		run.StateScheduled:  {"Scheduled", "Late", "AwaitingRetry"},
		run.StatePending:    {"Pending"},
		run.StateRunning:    {"Running"},
		run.StateCompleted:  {"Completed"},
		run.StateFailed:     {"Failed", "TimedOut", "Rejected"},
		run.StateCrashed:    {"Crashed"},
		run.StateCancelling: {"Cancelling"},
		run.StateCancelled:  {"Cancelled"},
	}
	all := []string{"", "Scheduled", "Late", "AwaitingRetry", "Pending", "Running", "Completed",
		"Failed", "TimedOut", "Rejected", "Crashed", "Cancelling", "Cancelled", "scheduled"}
	for _, s := range run.AllStates() {
		names, ok := valid[s]
		if !ok {
			t.Fatalf("state %s missing from the expectations", s)
		}
		if got := run.DefaultName(s); got != names[0] {
			t.Errorf("DefaultName(%s) = %q, want %q", s, got, names[0])
		}
		for _, n := range all {
			want := false
			for _, v := range names {
				want = want || v == n
			}
			if got := run.ValidName(s, n); got != want {
				t.Errorf("ValidName(%s, %q) = %v, want %v", s, n, got, want)
			}
		}
	}
	if run.DefaultName("BOGUS") != "" || run.ValidName("BOGUS", "") {
		t.Error("an unknown state has a name")
	}
}

func TestRetryOnHas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set, o run.RetryOn
		want   bool
	}{
		{run.DefaultRetryOn, run.RetryOnFailed, true},
		{run.DefaultRetryOn, run.RetryOnCrashed, true},
		{run.DefaultRetryOn, run.RetryOnTimedOut, true},
		{run.RetryOnCrashed, run.RetryOnFailed, false},
		{run.RetryOnCrashed, run.RetryOnCrashed, true},
		{0, run.RetryOnFailed, false},
		{run.DefaultRetryOn, 0, false},
	}
	for _, tt := range tests {
		if got := tt.set.Has(tt.o); got != tt.want {
			t.Errorf("RetryOn(%b).Has(%b) = %v, want %v", tt.set, tt.o, got, tt.want)
		}
	}
	// The column default in runs.retry_on is 7.
	if run.DefaultRetryOn != 7 {
		t.Errorf("DefaultRetryOn = %d, want 7 to match the runs.retry_on default", run.DefaultRetryOn)
	}
}
