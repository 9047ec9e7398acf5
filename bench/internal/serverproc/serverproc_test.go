package serverproc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestProcCPUTimeOfThisProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	// Burn some CPU so the reading cannot stay at zero by chance.
	before, err := procCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for after := before; after == before; {
		x := 0
		for i := range 10_000_000 {
			x += i
		}
		_ = x
		if after, err = procCPUTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after < before {
			t.Fatalf("CPU time went back from %v to %v", before, after)
		}
	}
}

func TestDescendantPIDsFindsAChild(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc on this system")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if got := descendantPIDs(os.Getpid()); !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("descendantPIDs(self) = %v, want it to hold child %d", got, cmd.Process.Pid)
	}
}
