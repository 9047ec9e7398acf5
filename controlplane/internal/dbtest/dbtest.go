// Package dbtest gives each test its own PostgreSQL database, cloned in
// milliseconds from a template database that is migrated once.
//
// A test process starts one embedded cluster (see [pgembed]) the first time
// a test asks for a database, or uses the server named by the
// FERRY_TEST_DATABASE_URL environment variable instead. Packages that use
// dbtest call [Main] from TestMain so the cluster is stopped when the tests
// end:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// dbtest is for tests only; nothing outside _test.go files may import it.
//
// Known limitation: on a server named by FERRY_TEST_DATABASE_URL, each
// distinct set of migrations leaves its template database behind
// (ferry_template_<hash>); drop old ones by hand when they pile up.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/migrate"
	"github.com/ferryhq/ferry/controlplane/internal/pgembed"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/queries"
)

// URLEnv names the environment variable that points dbtest at an existing
// PostgreSQL server instead of an embedded cluster. Its value is a
// connection string for a maintenance database (such as postgres) of a
// superuser, or of a role that may create databases and owns what dbtest
// creates there: its template and the per-test databases.
const URLEnv = "FERRY_TEST_DATABASE_URL"

const (
	// templatePrefix starts the template's name; a hash of the migrations
	// follows, so that test processes built from different migrations can
	// share one external server.
	templatePrefix = "ferry_template_"

	// testDatabasePrefix starts the name of every per-test database.
	testDatabasePrefix = "ferry_test_"

	// templateLockKey is the pg_advisory_lock key that serializes building
	// templates across test processes: the bytes of "ferrytpl".
	templateLockKey int64 = 0x666572727974706c

	// setupTimeout bounds starting the cluster and migrating the template.
	setupTimeout = 2 * time.Minute

	// databaseTimeout bounds creating or dropping one test database.
	databaseTimeout = 30 * time.Second

	// stopTimeout bounds stopping the cluster at the end of the tests.
	stopTimeout = time.Minute
)

// migrationSource returns the migrations the template is built from. This
// package's own tests replace it so that they do not depend on Ferry's schema.
var migrationSource = func() (fs.FS, error) {
	return fs.Sub(queries.Migrations, "migrations")
}

var (
	setupOnce sync.Once
	shared    *harness
	setupErr  error
)

// Main runs the tests of m, then stops the cluster if one was started and
// exits with the tests' status. Call it from TestMain. A package that does
// not call it leaves the cluster to die with the test process (through its
// parent-death signal) and its directory under /tmp behind.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops the cluster if one was started. [Main] calls it; a TestMain
// that must also stop other shared fixtures calls it after m.Run instead of
// using Main.
func Stop() error {
	if shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return shared.close(ctx)
}

// Pool returns a pool connected to a new database holding Ferry's migrated
// schema and nothing else. The pool is closed and the database dropped when
// the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return newPool(t, ConnString(t))
}

// ConnString creates a new database holding Ferry's migrated schema and
// returns a connection string for it, usable by pgx and as the ferry
// binary's --database-url. The database is dropped, closing any sessions
// still connected, when the test ends.
func ConnString(t testing.TB) string {
	t.Helper()
	return newDatabase(t, get(t).template)
}

// EmptyConnString creates a new database with no schema at all (for tests
// of the migrator) and returns a connection string for it. The database is
// dropped when the test ends.
func EmptyConnString(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "template0")
}

// Cluster returns the test process's embedded cluster, starting it if
// needed. It skips the test when [URLEnv] points dbtest at another server,
// since there is no cluster then.
func Cluster(t testing.TB) *pgembed.Cluster {
	t.Helper()
	h := get(t)
	if h.cluster == nil {
		t.Skipf("dbtest: %s is set, so there is no embedded cluster", URLEnv)
	}
	return h.cluster
}

// get returns the process's harness, setting it up on first use.
func get(t testing.TB) *harness {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		migrations, err := migrationSource()
		if err != nil {
			setupErr = fmt.Errorf("load migrations: %w", err)
			return
		}
		shared, setupErr = newHarness(ctx, os.Getenv(URLEnv), migrations)
	})
	if setupErr != nil {
		t.Fatalf("dbtest: %v", setupErr)
	}
	return shared
}

// newDatabase creates a database from template, registers its drop, and
// returns its connection string.
func newDatabase(t testing.TB, template string) string {
	t.Helper()
	h := get(t)
	ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
	defer cancel()
	name, err := h.createDatabase(ctx, template)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
		defer cancel()
		if err := h.dropDatabase(ctx, name); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	connString, err := withDatabase(h.baseURL, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return connString
}

// newPool connects a pool that is closed when the test ends.
func newPool(t testing.TB, connString string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatalf("dbtest: parse connection string: %v", err)
	}
	// Tests use the connection setup of the product.
	cfg.AfterConnect = store.RegisterUUID
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("dbtest: connect pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// harness is one server with a migrated template on it.
type harness struct {
	cluster  *pgembed.Cluster // nil when an external server is used
	dir      string           // the cluster's directory, removed by close
	baseURL  string           // connection string of the maintenance database
	admin    *pgxpool.Pool    // connected to baseURL
	template string
}

// newHarness connects to the server at externalURL, or when it is empty
// starts an embedded cluster, and makes sure the template for migrations
// exists there.
func newHarness(ctx context.Context, externalURL string, migrations fs.FS) (*harness, error) {
	h := &harness{baseURL: externalURL}
	if externalURL == "" {
		if err := h.startCluster(ctx); err != nil {
			return nil, err
		}
	}
	var err error
	h.admin, err = pgxpool.New(ctx, h.baseURL)
	if err != nil {
		h.close(ctx)
		return nil, fmt.Errorf("connect to %s: %w", redact(h.baseURL), err)
	}
	h.template, err = h.ensureTemplate(ctx, migrations)
	if err != nil {
		h.close(ctx)
		return nil, err
	}
	return h, nil
}

// startCluster starts an embedded cluster in a new directory under /tmp,
// which the postgres user can reach when the tests run as root.
func (h *harness) startCluster(ctx context.Context) error {
	dir, err := os.MkdirTemp("/tmp", "ferry-dbtest-")
	if err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	h.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		h.close(ctx)
		return fmt.Errorf("open cluster directory to the postgres user: %w", err)
	}
	h.cluster, err = pgembed.Start(ctx, pgembed.Config{Dir: dir, Fast: true})
	if err != nil {
		h.close(ctx)
		return fmt.Errorf("start embedded cluster: %w", err)
	}
	h.baseURL = h.cluster.ConnString("postgres")
	return nil
}

// ensureTemplate returns the name of the template database for migrations,
// building it unless a previous process already did. The template is built
// under another name and renamed when complete, so a process that dies
// halfway never leaves a half-migrated template behind.
func (h *harness) ensureTemplate(ctx context.Context, migrations fs.FS) (string, error) {
	hash, err := migrationsHash(migrations)
	if err != nil {
		return "", err
	}
	name := templatePrefix + hash
	building := name + "_building"

	conn, err := h.admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("acquire admin connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("take template lock: %w", err)
	}
	defer func() {
		// Closing the session releases the lock should the unlock fail.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), databaseTimeout)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockKey); err != nil {
			conn.Conn().Close(ctx)
		}
	}()

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
		name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}

	steps := []string{
		"DROP DATABASE IF EXISTS " + quoteIdent(building) + " WITH (FORCE)",
		"CREATE DATABASE " + quoteIdent(building) + " TEMPLATE template0",
	}
	for _, sql := range steps {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("prepare template: %w", err)
		}
	}
	if err := migrateDatabase(ctx, h.baseURL, building, migrations); err != nil {
		return "", err
	}
	// ALLOW_CONNECTIONS false keeps stray sessions off the template, since
	// any session on it makes CREATE DATABASE ... TEMPLATE fail.
	steps = []string{
		"ALTER DATABASE " + quoteIdent(building) + " RENAME TO " + quoteIdent(name),
		"ALTER DATABASE " + quoteIdent(name) + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
	}
	for _, sql := range steps {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("finish template: %w", err)
		}
	}
	return name, nil
}

// migrateDatabase applies migrations to database dbname and disconnects.
func migrateDatabase(ctx context.Context, baseURL, dbname string, migrations fs.FS) error {
	connString, err := withDatabase(baseURL, dbname)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return fmt.Errorf("connect to template: %w", err)
	}
	defer pool.Close()
	if _, err := migrate.Apply(ctx, pool, migrations, nil); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// createDatabase creates a database with a random name from template.
func (h *harness) createDatabase(ctx context.Context, template string) (string, error) {
	name := testDatabasePrefix + strings.ToLower(rand.Text())
	sql := "CREATE DATABASE " + quoteIdent(name) + " TEMPLATE " + quoteIdent(template)
	if _, err := h.admin.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("create test database from %s: %w", template, err)
	}
	return name, nil
}

// dropDatabase drops a test database, ending any sessions still on it.
func (h *harness) dropDatabase(ctx context.Context, name string) error {
	sql := "DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)"
	if _, err := h.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	return nil
}

// close disconnects and, for an embedded cluster, stops it and removes its
// directory. The template stays on an external server for later processes.
func (h *harness) close(ctx context.Context) error {
	if h.admin != nil {
		h.admin.Close()
	}
	var err error
	if h.cluster != nil {
		err = h.cluster.Stop(ctx)
	}
	if h.dir != "" {
		if rerr := os.RemoveAll(h.dir); rerr != nil && err == nil {
			err = fmt.Errorf("remove cluster directory: %w", rerr)
		}
	}
	return err
}

// migrationsHash identifies a set of migrations by the names and contents
// of its files.
func migrationsHash(migrations fs.FS) (string, error) {
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(migrations, e.Name())
		if err != nil {
			return "", fmt.Errorf("read migration: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// withDatabase returns connString with its database replaced by dbname. It
// accepts both URL and keyword/value connection strings.
func withDatabase(connString, dbname string) (string, error) {
	isURL := strings.HasPrefix(connString, "postgres://") ||
		strings.HasPrefix(connString, "postgresql://")
	if isURL {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("parse connection URL: %w", err)
		}
		u.Path = "/" + dbname
		u.RawPath = ""
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// In a keyword/value string the last setting of a keyword wins.
	value := strings.ReplaceAll(strings.ReplaceAll(dbname, `\`, `\\`), `'`, `\'`)
	return strings.TrimSpace(connString) + " dbname='" + value + "'", nil
}

// quoteIdent quotes a database name for use in SQL.
func quoteIdent(name string) string {
	return pgx.Identifier{name}.Sanitize()
}

// redact removes the password from a connection string for an error message.
func redact(connString string) string {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return "the test database server"
	}
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s",
		cfg.Host, cfg.Port, cfg.User, cfg.Database)
}
