package process_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/process"
)

// helperEnv makes the test binary act as a stand-in agent: it starts one run,
// prints the run's process id and waits to be killed.
const helperEnv = "FERRY_PROCESS_TEST_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := runHelperAgent(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func runHelperAgent() error {
	l, err := process.New(process.Config{})
	if err != nil {
		return err
	}
	job := launch.Job{RunID: "run-orphan", Attempt: 1, Command: []string{"sleep", "1000"}}
	h, err := l.Start(context.Background(), job, discardSink{})
	if err != nil {
		return err
	}
	fmt.Println(h.InfrastructureID())
	// Block until the test kills this process; stdin stays open until then.
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

type discardSink struct{}

func (discardSink) Line(launch.LogLine) {}

func TestRunDiesWithAgent(t *testing.T) {
	t.Parallel()
	agent := exec.Command(os.Args[0], "-test.run=^$")
	agent.Env = append(os.Environ(), helperEnv+"=1")
	agent.Stderr = os.Stderr
	stdin, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatalf("start helper agent: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		t.Fatalf("read run pid from helper agent: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper agent printed %q, want a process id", line)
	}

	if err := agent.Process.Kill(); err != nil {
		t.Fatalf("kill helper agent: %v", err)
	}
	_ = agent.Wait()

	// The run's process must die with its agent. It may linger as a zombie
	// under whichever ancestor inherited it; that is dead enough.
	bound := time.After(waitBound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		state, ppid, alive := processState(pid)
		if !alive || state == "Z" {
			if alive && ppid == os.Getpid() {
				_, _ = unix.Wait4(pid, nil, unix.WNOHANG, nil)
			}
			return
		}
		select {
		case <-tick.C:
		case <-bound:
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("run process %d still running (state %s) %s after its agent was killed", pid, state, waitBound)
		}
	}
}

// processState reads the state and parent of pid from /proc; alive is false
// once the process has been reaped.
func processState(pid int) (state string, ppid int, alive bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid, true
}
