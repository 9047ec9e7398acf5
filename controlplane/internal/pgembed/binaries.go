package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// minVersion is the oldest PostgreSQL major version Ferry supports.
	minVersion = 14

	// debianLibRoot is where Debian and Ubuntu install one directory per
	// PostgreSQL major version, each with its server binaries in bin/.
	debianLibRoot = "/usr/lib/postgresql"

	// socketName is the socket file postgres creates for [port].
	socketName = ".s.PGSQL.5432"

	// versionTimeout bounds `postgres -V`.
	versionTimeout = 10 * time.Second
)

// ErrBinariesNotFound is returned by [Start] when no directory holds both
// initdb and postgres.
var ErrBinariesNotFound = errors.New("PostgreSQL server binaries (initdb, postgres) not found " +
	"on PATH or in " + debianLibRoot + "/*/bin; install PostgreSQL 14 or newer " +
	"(Debian: apt-get install postgresql) or pass --database-url")

// binaries are the server programs of one PostgreSQL installation.
type binaries struct {
	dir      string
	initdb   string
	postgres string
	major    int
}

// locateBinaries finds initdb and postgres in binDir, or when binDir is
// empty on PATH and then under /usr/lib/postgresql, and checks their version.
// When binDir is empty and an existing cluster was created by version
// clusterMajor (0 for none), that version's Debian binaries come first.
func locateBinaries(ctx context.Context, binDir string, clusterMajor int) (binaries, error) {
	dir := binDir
	matching := filepath.Join(debianLibRoot, strconv.Itoa(clusterMajor), "bin")
	if dir == "" && clusterMajor > 0 && hasServerBinaries(matching) {
		dir = matching
	}
	if dir == "" {
		var err error
		dir, err = findBinDir(os.Getenv("PATH"), debianLibRoot)
		if err != nil {
			return binaries{}, err
		}
	} else if !hasServerBinaries(dir) {
		return binaries{}, fmt.Errorf("pgembed: %s does not hold both initdb and postgres", dir)
	}

	b := binaries{
		dir:      dir,
		initdb:   filepath.Join(dir, "initdb"),
		postgres: filepath.Join(dir, "postgres"),
	}
	major, err := binaryVersion(ctx, b.postgres)
	if err != nil {
		return binaries{}, err
	}
	if major < minVersion {
		return binaries{}, fmt.Errorf("pgembed: %s is PostgreSQL %d; Ferry needs PostgreSQL %d "+
			"or newer (Debian: apt-get install postgresql) or pass --database-url",
			b.postgres, major, minVersion)
	}
	b.major = major
	return b, nil
}

// findBinDir returns the first directory holding both initdb and postgres:
// first those on path (a PATH-style list), then libRoot/*/bin, newest
// version first.
func findBinDir(path, libRoot string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir != "" && hasServerBinaries(dir) {
			return dir, nil
		}
	}

	versionDirs, err := filepath.Glob(filepath.Join(libRoot, "*", "bin"))
	if err != nil {
		return "", fmt.Errorf("pgembed: list %s: %w", libRoot, err)
	}
	slices.SortFunc(versionDirs, func(a, b string) int {
		return slices.Compare(versionOf(b), versionOf(a))
	})
	for _, dir := range versionDirs {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrBinariesNotFound
}

// hasServerBinaries reports whether dir holds executable initdb and postgres.
func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf parses the version directory of libRoot/<version>/bin ("15",
// "9.6") into its numeric parts; a name that is not a version yields nil,
// which sorts oldest.
func versionOf(binDir string) []int {
	name := filepath.Base(filepath.Dir(binDir))
	var parts []int
	for field := range strings.SplitSeq(name, ".") {
		n, err := strconv.Atoi(field)
		if err != nil {
			return nil
		}
		parts = append(parts, n)
	}
	return parts
}

var versionPattern = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// binaryVersion returns the major version printed by `postgres -V`.
func binaryVersion(ctx context.Context, postgres string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, postgres, "-V").Output()
	if err != nil {
		return 0, fmt.Errorf("pgembed: run %s -V: %w", postgres, err)
	}
	m := versionPattern.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgembed: unexpected output of %s -V: %q",
			postgres, bytes.TrimSpace(out))
	}
	return strconv.Atoi(string(m[1]))
}

// clusterVersion returns the major version recorded in dataDir/PG_VERSION,
// or 0 when dataDir holds no cluster.
func clusterVersion(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgembed: read cluster version: %w", err)
	}
	major, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pgembed: %s/PG_VERSION holds %q, not a version", dataDir,
			bytes.TrimSpace(b))
	}
	return major, nil
}

// removeEmptyDir removes dir when it exists and is empty, so that a fresh
// cluster can be renamed into its place. A directory with files in it but
// no PG_VERSION is not a cluster and is left for the user to inspect.
func removeEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pgembed: %s is not empty but holds no PostgreSQL cluster "+
			"(no PG_VERSION); move it away or choose another data directory", dir)
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("pgembed: remove empty %s: %w", dir, err)
	}
	return nil
}
