package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the system account initdb and postgres run as when Ferry
// runs as root, since PostgreSQL refuses to run as root.
const serverUser = "postgres"

// credential is the account the server runs as when it is not the caller's.
type credential struct {
	uid uint32
	gid uint32
}

// serverOwner returns the account to run the server as: nil when the
// calling process is not root and the server runs as the caller.
func serverOwner() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("pgembed: running as root, so PostgreSQL must run as the %q "+
			"system user, which was not found (%w); create it (Debian: apt-get install "+
			"postgresql does) or run ferry as an unprivileged user", serverUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgembed: uid of %s: %w", serverUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgembed: gid of %s: %w", serverUser, err)
	}
	return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
}

// prepareDir creates dir and, when the server runs as another account,
// hands dir to it and checks that it can reach dir.
//
// When the server runs as another account, the existing part of the path
// is checked before anything is created, so a refusal leaves nothing
// behind; the parents it creates get mode 0755, so that account can
// traverse them, and dir itself 0700 owned by that account. Files holding
// secrets beside dir are created 0600, so the open parents expose names
// only. When the server runs as the caller, everything created is 0700.
func prepareDir(dir string, owner *credential) error {
	if owner == nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("pgembed: create %s: %w", dir, err)
		}
		return nil
	}
	missing, err := missingDirs(dir)
	if err != nil {
		return err
	}
	// The first existing directory, and every one above it, must be
	// searchable; dir itself, if it exists, is handed over below.
	existing := dir
	if len(missing) > 0 {
		existing = filepath.Dir(missing[0])
		if err := checkAccess(existing, owner, 0o1); err != nil {
			return err
		}
	}
	for d := filepath.Dir(existing); ; d = filepath.Dir(d) {
		if err := checkAccess(d, owner, 0o1); err != nil {
			return err
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := createDirs(missing); err != nil {
		return err
	}
	if err := os.Chown(dir, int(owner.uid), int(owner.gid)); err != nil {
		removeDirs(missing)
		return fmt.Errorf("pgembed: hand %s to user %s: %w", dir, serverUser, err)
	}
	if err := checkReachable(dir, owner); err != nil {
		removeDirs(missing)
		return err
	}
	return nil
}

// missingDirs returns the directories from the topmost one that does not
// exist down to dir, outermost first; empty when dir exists.
func missingDirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err == nil {
			if !info.IsDir() {
				return nil, fmt.Errorf("pgembed: create %s: %s is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pgembed: check %s: %w", d, err)
		}
		missing = append([]string{d}, missing...)
		if d == filepath.Dir(d) {
			break
		}
	}
	return missing, nil
}

// createDirs creates dirs, outermost first: every one but the last with
// mode 0755 (whatever the umask), the last with 0700. On failure it removes
// the ones it created.
func createDirs(dirs []string) error {
	for i, d := range dirs {
		mode := fs.FileMode(0o755)
		if i == len(dirs)-1 {
			mode = 0o700
		}
		if err := os.Mkdir(d, mode); err != nil {
			removeDirs(dirs[:i])
			return fmt.Errorf("pgembed: create %s: %w", d, err)
		}
		if err := os.Chmod(d, mode); err != nil {
			removeDirs(dirs[:i+1])
			return fmt.Errorf("pgembed: set mode of %s: %w", d, err)
		}
	}
	return nil
}

// removeDirs removes the empty directories dirs, innermost first, undoing
// createDirs; a directory that is gone or no longer empty is left alone.
func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

// makePrivateSocketDir creates a directory under /tmp, short enough for a
// unix socket path, that only the server's account may enter.
func makePrivateSocketDir(owner *credential) (string, error) {
	dir, err := os.MkdirTemp("/tmp", "ferry-pg-")
	if err != nil {
		return "", fmt.Errorf("pgembed: create socket directory: %w", err)
	}
	if owner == nil {
		return dir, nil
	}
	if err := os.Chown(dir, int(owner.uid), int(owner.gid)); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("pgembed: hand %s to user %s: %w", dir, serverUser, err)
	}
	if err := checkReachable(dir, owner); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// checkReachable returns an error naming the first directory that stops
// owner from using dir: dir itself must be readable, writable and
// searchable, and every parent searchable.
//
// Known limitation: the check reads permission bits only and ignores ACLs,
// so a directory that the account may enter only through an ACL entry is
// refused.
func checkReachable(dir string, owner *credential) error {
	if err := checkAccess(dir, owner, 0o7); err != nil {
		return err
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if err := checkAccess(d, owner, 0o1); err != nil {
			return err
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// checkAccess checks that owner holds the permissions want (0o1 search,
// 0o7 read, write and search) on directory path.
func checkAccess(path string, owner *credential, want fs.FileMode) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pgembed: check access to %s: %w", path, err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("pgembed: file ownership is not available on this system")
	}
	perm := info.Mode().Perm()
	var granted fs.FileMode
	switch {
	case st.Uid == owner.uid:
		granted = perm >> 6 & 0o7
	case st.Gid == owner.gid:
		granted = perm >> 3 & 0o7
	default:
		granted = perm & 0o7
	}
	if granted&want == want {
		return nil
	}
	need := "search (x)"
	if want != 0o1 {
		need = "read, write and search (rwx)"
	}
	return fmt.Errorf("pgembed: PostgreSQL runs as user %s (uid %d), which lacks %s "+
		"permission on %s (mode %s, owner uid %d, gid %d); choose a directory under a "+
		"path that user can traverse, or grant it (chmod o+x on each parent)",
		serverUser, owner.uid, need, path, perm, st.Uid, st.Gid)
}
