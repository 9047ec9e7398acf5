package docker_test

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/client"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/agent/internal/launch/docker"
)

// engineProxy forwards connections on a unix socket to the engine until it
// is cut, which to its clients looks like an engine that went away.
type engineProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newEngineProxy(t *testing.T, engineHost string) *engineProxy {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "engine.sock"))
	if err != nil {
		t.Fatal(err)
	}
	p := &engineProxy{ln: ln}
	t.Cleanup(p.disconnect)
	target := strings.TrimPrefix(engineHost, "unix://")
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("unix", target)
			if err != nil {
				in.Close()
				continue
			}
			if !p.track(in, out) {
				return
			}
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

// track records a proxied connection pair, or closes it if the proxy is cut.
func (p *engineProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

func (p *engineProxy) host() string { return "unix://" + p.ln.Addr().String() }

// disconnect closes the socket and every connection through it.
func (p *engineProxy) disconnect() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestEngineGone(t *testing.T) {
	t.Parallel()
	_, b := setup(t, docker.Config{})
	proxy := newEngineProxy(t, b.engine.Host())
	cli, err := client.NewClientWithOpts(client.WithHost(proxy.host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l, err := docker.New(docker.Config{Client: cli, AgentName: b.agent})
	if err != nil {
		t.Fatal(err)
	}

	h, s := start(t, l, b.job("-stdout=1", "-sleep=1h"))
	waitUntil(t, "payload's first line", func() bool { return len(s.texts(launch.StreamStdout)) > 0 })
	proxy.disconnect()
	got := wait(t, h)

	if got.Kind != launch.OutcomeCrashed || got.ExitCode != launch.ExitCodeUnknown ||
		!strings.HasPrefix(got.Message, "lost track of container "+h.InfrastructureID()[:12]) {
		t.Errorf("outcome = %+v, want Crashed, exit code unknown, lost track of the container", got)
	}
	sys := s.texts(launch.StreamSystem)
	if len(sys) != 1 || !strings.Contains(sys[0], "later output is not captured") {
		t.Errorf("system lines = %q, want one saying the log could not be read", sys)
	}
}
