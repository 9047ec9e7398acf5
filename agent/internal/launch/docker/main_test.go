package docker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"testing"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/docker"
	"github.com/ferryhq/ferry/internal/dockertest"
)

// Environment of the test binary run as a stand-in agent: it starts the job
// in helperJobEnv, prints the container id and then every output line it is
// given, and waits to be killed.
const (
	helperEnv      = "FERRY_DOCKER_TEST_AGENT"
	helperHostEnv  = "FERRY_DOCKER_TEST_HOST"
	helperAgentEnv = "FERRY_DOCKER_TEST_AGENT_NAME"
	helperJobEnv   = "FERRY_DOCKER_TEST_JOB"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := runHelperAgent(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	dockertest.Main(m)
}

func runHelperAgent() error {
	var job launch.Job
	if err := json.Unmarshal([]byte(os.Getenv(helperJobEnv)), &job); err != nil {
		return fmt.Errorf("helper agent: job: %w", err)
	}
	l, err := docker.New(docker.Config{Host: os.Getenv(helperHostEnv), AgentName: os.Getenv(helperAgentEnv)})
	if err != nil {
		return err
	}
	out := &printSink{}
	h, err := l.Start(context.Background(), job, out)
	if err != nil {
		return err
	}
	out.print("id " + h.InfrastructureID())
	// Block until the test kills this process; stdin stays open until then.
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// printSink prints each output line it is given on stdout, one per line.
type printSink struct{ mu sync.Mutex }

func (s *printSink) Line(l launch.LogLine) {
	if l.Stream == launch.StreamStdout || l.Stream == launch.StreamStderr {
		s.print("line " + l.Text)
	}
}

func (s *printSink) print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Println(text)
}
