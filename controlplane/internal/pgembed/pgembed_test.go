package pgembed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// childDirEnv makes the test binary start a cluster in the named directory,
// report "ready" on stdout and wait to be killed; TestDeathSignal uses it.
const childDirEnv = "PGEMBED_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

func runChild(dir string) {
	if _, err := Start(context.Background(), Config{Dir: dir, Fast: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

// newDir returns an empty directory under /tmp that the postgres user can
// reach when the tests run as root (t.TempDir is private to its creator).
func newDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start runs a cluster in dir and stops it at the end of the test.
func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func connect(t *testing.T, c *Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.ConnString("postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fast bool
		want map[string]string
	}{
		{
			name: "durable",
			want: map[string]string{
				"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
				"listen_addresses": "", "max_connections": "200", "server_encoding": "UTF8",
			},
		},
		{
			name: "fast",
			fast: true,
			want: map[string]string{
				"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
				"listen_addresses": "", "max_connections": "200", "server_encoding": "UTF8",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newDir(t)
			c := start(t, Config{Dir: dir, Fast: tt.fast})
			conn := connect(t, c)

			got := map[string]string{}
			for name := range tt.want {
				var v string
				if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
					t.Fatalf("read %s: %v", name, err)
				}
				got[name] = v
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(dir, socketName)); err != nil {
				t.Errorf("socket not in Dir: %v", err)
			}
			if info, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil || info.Size() == 0 {
				t.Errorf("postgres.log missing or empty: %v", err)
			}
		})
	}
}

func TestRestartReusesCluster(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	ctx := t.Context()

	// Read only after Stop, once postgres can no longer write to them.
	var stdout, stderr bytes.Buffer
	c := start(t, Config{Dir: dir, Fast: true, Stdout: &stdout, Stderr: &stderr})
	conn := connect(t, c)
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if want := "The files belonging to this database system"; !strings.Contains(stdout.String(), want) {
		t.Errorf("Config.Stdout lacks initdb's %q; got:\n%s", want, stdout.String())
	}
	if want := "ready to accept connections"; !strings.Contains(stderr.String(), want) {
		t.Errorf("Config.Stderr lacks the server's %q; got:\n%s", want, stderr.String())
	}

	c = start(t, Config{Dir: dir, Fast: true})
	var v string
	if err := connect(t, c).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatalf("read table from first run: %v", err)
	}
	if v != "hello" {
		t.Errorf("got %q, want hello", v)
	}
}

func TestLongDirUsesPrivateSocketDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(newDir(t), strings.Repeat("d", 100))
	c := start(t, Config{Dir: dir, Fast: true})
	connect(t, c)

	u, err := url.Parse(c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	socketDir := u.Query().Get("host")
	if !strings.HasPrefix(socketDir, "/tmp/ferry-pg-") {
		t.Fatalf("socket dir %q, want a private directory under /tmp", socketDir)
	}
	info, err := os.Stat(socketDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", got)
	}
	wantUID := uint32(os.Geteuid())
	if owner, _ := serverOwner(); owner != nil {
		wantUID = owner.uid
	}
	if got := info.Sys().(*syscall.Stat_t).Uid; got != wantUID {
		t.Errorf("socket dir owned by uid %d, want %d", got, wantUID)
	}

	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir still there after Stop: %v", err)
	}
}

func TestStaleLockFile(t *testing.T) {
	t.Parallel()
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pid  string
	}{
		{name: "pid reused by another program", pid: strconv.Itoa(os.Getpid())},
		{name: "pid of an exited process", pid: strconv.Itoa(exited.Process.Pid)},
		{name: "standalone backend pid", pid: "-" + strconv.Itoa(exited.Process.Pid)},
		{name: "garbage", pid: "not a pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newDir(t)
			c := start(t, Config{Dir: dir, Fast: true})
			if err := c.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(dir, "pgdata", "postmaster.pid")
			content := tt.pid + "\n" + filepath.Join(dir, "pgdata") + "\n1700000000\n5432\n" +
				dir + "\n\n  5432001    196608\nready   \n"
			for _, path := range []string{pidFile, filepath.Join(dir, socketName+".lock")} {
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			c = start(t, Config{Dir: dir, Fast: true})
			connect(t, c)
		})
	}
}

func TestRunningClusterIsNotStartedTwice(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	c := start(t, Config{Dir: dir, Fast: true})

	second, err := Start(t.Context(), Config{Dir: dir, Fast: true})
	if err == nil {
		second.Stop(context.Background())
		t.Fatal("second Start on a running cluster succeeded")
	}
	if !strings.Contains(err.Error(), "is in use by another process") {
		t.Errorf("error %q does not say the cluster is in use", err)
	}

	// A postgres left running by a process that died keeps its lock file.
	pidFile := filepath.Join(dir, "pgdata", "postmaster.pid")
	err = removeStaleLock(pidFile)
	if err == nil || !strings.Contains(err.Error(), "in use by running postgres process") {
		t.Errorf("removeStaleLock of a live server: got %v, want an in-use error", err)
	}
	if _, err := os.Stat(pidFile); err != nil {
		t.Errorf("lock file of a live server removed: %v", err)
	}
	connect(t, c)
}

func TestStopKillsWhenContextDone(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	c, err := Start(t.Context(), Config{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = c.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Stop with a done context: got %v, want an error saying it was killed", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("process still running after Stop")
	}
	if again := c.Stop(t.Context()); again == nil || again.Error() != err.Error() {
		t.Errorf("second Stop returned %v, want the first result %v", again, err)
	}

	// The killed cluster recovers on the next start.
	connect(t, start(t, Config{Dir: dir, Fast: true}))
}

func TestDeathSignal(t *testing.T) {
	t.Parallel()
	dir := newDir(t)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childDirEnv+"="+dir)
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child did not report ready: %q, %v", line, err)
	}

	pidFile, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(pidFile), "\n")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if !isPostgresProcess(pid) {
		t.Fatalf("pid %d from postmaster.pid is not a running postgres", pid)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for isPostgresProcess(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres %d still running 30s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	connect(t, start(t, Config{Dir: dir, Fast: true}))
}

func TestUnreachableDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	private := newDir(t)
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Config{Dir: filepath.Join(private, "cluster")})
	if err == nil {
		t.Fatal("Start under a directory postgres cannot search succeeded")
	}
	want := "lacks search (x) permission on " + private + " "
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	// The refusal comes before anything is created.
	entries, err := os.ReadDir(private)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("refused Start left %d entries in %s, first %q", len(entries), private, entries[0].Name())
	}
}

// TestCreatesMissingParents starts a cluster in a directory whose parents
// do not exist yet, as `ferry server --data-dir NEW` does with NEW/postgres:
// as root the parents must be left traversable by the postgres user.
func TestCreatesMissingParents(t *testing.T) {
	t.Parallel()
	root := newDir(t)
	data := filepath.Join(root, "a", "data")
	dir := filepath.Join(data, "postgres")
	connect(t, start(t, Config{Dir: dir, Fast: true}))

	// Run as the caller, nothing needs opening up; as root, the parents
	// are open and the cluster directory belongs to the postgres user.
	self := uint32(os.Geteuid())
	parentMode, clusterUID := os.FileMode(0o700), self
	owner, err := serverOwner()
	if err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		parentMode, clusterUID = 0o755, owner.uid
	}
	for _, tt := range []struct {
		path string
		mode os.FileMode
		uid  uint32
	}{
		{path: filepath.Join(root, "a"), mode: parentMode, uid: self},
		{path: data, mode: parentMode, uid: self},
		{path: dir, mode: 0o700, uid: clusterUID},
	} {
		info, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != tt.mode {
			t.Errorf("%s: mode %v, want %v", tt.path, got, tt.mode)
		}
		if uid := info.Sys().(*syscall.Stat_t).Uid; uid != tt.uid {
			t.Errorf("%s: owner uid %d, want %d", tt.path, uid, tt.uid)
		}
	}
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(dir string, names ...string) string {
		t.Helper()
		full := filepath.Join(root, dir)
		if err := os.MkdirAll(full, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(full, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return full
	}
	pathBoth := mk("path/both", "initdb", "postgres")
	pathInitdbOnly := mk("path/initdb-only", "initdb")
	mk("lib/9.6/bin", "initdb", "postgres")
	v14 := mk("lib/14/bin", "initdb", "postgres")
	mk("lib/17/bin", "initdb")
	mk("lib/notaversion/bin", "initdb", "postgres")
	noExec := mk("noexec")
	for _, n := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(noExec, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emptyLib := mk("emptylib")

	tests := []struct {
		name    string
		path    string
		libRoot string
		want    string
		wantErr error
	}{
		{name: "PATH first", path: pathInitdbOnly + ":" + pathBoth, libRoot: filepath.Join(root, "lib"), want: pathBoth},
		{name: "newest complete version", path: pathInitdbOnly, libRoot: filepath.Join(root, "lib"), want: v14},
		{name: "not executable", path: noExec, libRoot: emptyLib, wantErr: ErrBinariesNotFound},
		{name: "nothing", path: "", libRoot: emptyLib, wantErr: ErrBinariesNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := findBinDir(tt.path, tt.libRoot)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMissingBinariesMessage(t *testing.T) {
	t.Parallel()
	want := "PostgreSQL server binaries (initdb, postgres) not found on PATH or in " +
		"/usr/lib/postgresql/*/bin; install PostgreSQL 14 or newer " +
		"(Debian: apt-get install postgresql) or pass --database-url"
	if got := ErrBinariesNotFound.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
