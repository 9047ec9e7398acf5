package dockertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
)

// registryHint says how to get a local registry on the project's machines.
const registryHint = "install it with `apt-get install -y --no-install-recommends docker-registry apache2-utils`"

// Registry is an image registry (Debian's docker-registry) listening on
// loopback that requires a user name and password.
type Registry struct {
	addr     string
	user     string
	password string
}

// StartRegistry starts a registry on a free loopback port that accepts only
// user and password, and stops it when t ends. It skips t when the
// docker-registry or htpasswd program is missing, and fails it on any other
// error. The engine treats a registry on 127.0.0.1 as insecure, so plain HTTP
// works without engine configuration.
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	for _, prog := range []string{"docker-registry", "htpasswd"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("dockertest: %s not found in PATH; %s", prog, registryHint)
		}
	}
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if out, err := exec.Command("htpasswd", "-Bbc", htpasswd, user, password).CombinedOutput(); err != nil {
		t.Fatalf("dockertest: htpasswd: %v\n%s", err, out)
	}
	addr := freeLoopbackAddr(t)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: ferry-test
    path: %s
`, filepath.Join(dir, "data"), addr, htpasswd)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatalf("dockertest: write registry config: %v", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatalf("dockertest: create registry log: %v", err)
	}
	defer logFile.Close()

	cmd := exec.Command("docker-registry", "serve", configPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited, err := spawn(cmd)
	if err != nil {
		t.Fatalf("dockertest: run docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	r := &Registry{addr: addr, user: user, password: password}
	if err := r.waitReady(exited); err != nil {
		t.Fatalf("dockertest: %v; registry log:\n%s", err, logTail(logFile.Name()))
	}
	return r
}

// Addr returns the registry's host:port, the prefix of its image references.
func (r *Registry) Addr() string { return r.addr }

// waitReady polls the registry until it asks for credentials, which shows it
// is serving with authentication on.
func (r *Registry) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/ answered %s, want 401", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry not ready within %s: %w", startTimeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("docker-registry exited during start")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Push tags the engine's image localTag as Addr()/repo, pushes it with the
// registry's credentials, and removes that tag from the engine again, so that
// using the returned reference makes the engine pull it. It fails t on error.
func (r *Registry) Push(t testing.TB, e *Engine, localTag, repo string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	ref := r.addr + "/" + repo
	if err := e.client.ImageTag(ctx, localTag, ref); err != nil {
		t.Fatalf("dockertest: tag %s as %s: %v", localTag, ref, err)
	}
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{
		Username: r.user, Password: r.password, ServerAddress: r.addr,
	})
	if err != nil {
		t.Fatalf("dockertest: encode registry credentials: %v", err)
	}
	body, err := e.client.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatalf("dockertest: push %s: %v", ref, err)
	}
	err = readProgress(body)
	body.Close()
	if err != nil {
		t.Fatalf("dockertest: push %s: %v", ref, err)
	}
	if _, err := e.client.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil {
		t.Fatalf("dockertest: untag %s: %v", ref, err)
	}
	return ref
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dockertest: find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("dockertest: find a free port: %v", err)
	}
	return addr
}
