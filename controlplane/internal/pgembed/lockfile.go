package pgembed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes an exclusive lock on dir for the life of the returned
// file, so that two processes never run the same cluster. The kernel drops
// the lock when the process dies, so a crash leaves nothing to clean up.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "pgembed.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("pgembed: the cluster in %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("pgembed: lock %s: %w", path, err)
	}
	return f, nil
}

// removeStaleLock removes a postmaster lock file (postmaster.pid, or the
// socket's .lock file) left behind by a server that is no longer running.
// postgres itself refuses to start while the pid in such a file is alive,
// and after a crash in a container that pid is often reused by an unrelated
// process. A lock file whose pid is a live postgres process is kept, and
// reported as an error, since that server may still be using the cluster.
func removeStaleLock(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: read lock file: %w", err)
	}

	// The first line is the postmaster's pid, negated for a standalone backend.
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err == nil && pid < 0 {
		pid = -pid
	}
	if err == nil && pid > 0 && isPostgresProcess(pid) {
		return fmt.Errorf("pgembed: the cluster is in use by running postgres process %d "+
			"(named in %s); stop that server first", pid, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pgembed: remove stale lock file: %w", err)
	}
	return nil
}
