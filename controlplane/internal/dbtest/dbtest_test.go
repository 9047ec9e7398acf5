package dbtest

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/queries"
)

// testMigrations stand in for Ferry's schema, so that these tests do not
// depend on it.
var testMigrations = fstest.MapFS{
	"0001_items.sql": {Data: []byte("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);")},
	"0002_seed.sql":  {Data: []byte("INSERT INTO items VALUES (1, 'seed');")},
}

func TestMain(m *testing.M) {
	migrationSource = func() (fs.FS, error) { return testMigrations, nil }
	Main(m)
}

func countItems(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("count items: %v", err)
	}
	return n
}

func TestPoolHasMigratedSchema(t *testing.T) {
	t.Parallel()
	pool := Pool(t)
	if got := countItems(t, pool); got != 1 {
		t.Errorf("items: got %d rows, want the 1 seeded", got)
	}
	rows, err := pool.Query(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"0001_items.sql", "0002_seed.sql"}, versions); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := Pool(t), Pool(t)
	if _, err := a.Exec(t.Context(), "INSERT INTO items VALUES (2, 'only in a')"); err != nil {
		t.Fatal(err)
	}
	if got := countItems(t, a); got != 2 {
		t.Errorf("a: got %d rows, want 2", got)
	}
	if got := countItems(t, b); got != 1 {
		t.Errorf("b: got %d rows, want 1", got)
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), ConnString(t))
		if err != nil {
			t.Fatal(err)
		}
		// The connection stays open: the drop must end it.
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, testDatabasePrefix) {
			t.Errorf("database %q lacks the prefix %q", name, testDatabasePrefix)
		}
	})
	if got := databaseExists(t, name); got {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	err := get(t).admin.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestEmptyConnString(t *testing.T) {
	t.Parallel()
	pool := newPool(t, EmptyConnString(t))
	var tables int
	err := pool.QueryRow(t.Context(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("empty database has %d tables", tables)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := Cluster(t)
	conn, err := pgx.Connect(t.Context(), c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var fsync string
	if err := conn.QueryRow(t.Context(), "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync %s, want off in a test cluster", fsync)
	}
}

// TestSharedServer runs harnesses as separate test processes would against
// one server named by FERRY_TEST_DATABASE_URL: they race to build the same
// template, one of them after a crash left a half-built one behind.
func TestSharedServer(t *testing.T) {
	t.Parallel()
	base := get(t).baseURL
	other := fstest.MapFS{
		"0001_things.sql": {Data: []byte("CREATE TABLE things (id int PRIMARY KEY);")},
	}
	hash, err := migrationsHash(other)
	if err != nil {
		t.Fatal(err)
	}
	template := templatePrefix + hash
	leftover := template + "_building"
	admin := get(t).admin
	t.Cleanup(func() {
		dropTemplate(t, admin, template)
		dropTemplate(t, admin, leftover)
	})
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+quoteIdent(leftover)); err != nil {
		t.Fatal(err)
	}

	const processes = 3
	harnesses := make([]*harness, processes)
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i := range processes {
		wg.Go(func() {
			harnesses[i], errs[i] = newHarness(t.Context(), base, other)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("harness %d: %v", i, err)
		}
		t.Cleanup(func() {
			if err := harnesses[i].close(context.Background()); err != nil {
				t.Errorf("close harness %d: %v", i, err)
			}
		})
		if harnesses[i].template != template {
			t.Errorf("harness %d uses template %s, want %s", i, harnesses[i].template, template)
		}
		if harnesses[i].cluster != nil {
			t.Errorf("harness %d started a cluster despite being given a server", i)
		}
	}

	var isTemplate, allowConn bool
	err = admin.QueryRow(t.Context(),
		"SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1",
		template).Scan(&isTemplate, &allowConn)
	if err != nil {
		t.Fatal(err)
	}
	if !isTemplate || allowConn {
		t.Errorf("template: datistemplate=%v datallowconn=%v, want true, false", isTemplate, allowConn)
	}
	if databaseExists(t, leftover) {
		t.Errorf("half-built template %s was not cleared", leftover)
	}

	ctx := t.Context()
	name, err := harnesses[0].createDatabase(ctx, template)
	if err != nil {
		t.Fatal(err)
	}
	connString, err := withDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO things VALUES (1)"); err != nil {
		t.Errorf("use database cloned from the shared template: %v", err)
	}
	conn.Close(ctx)
	if err := harnesses[1].dropDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestFerryMigrations builds a template from the real migrations, which the
// other tests replace.
func TestFerryMigrations(t *testing.T) {
	t.Parallel()
	ferry, err := fs.Sub(queries.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHarness(t.Context(), get(t).baseURL, ferry)
	if err != nil {
		t.Fatalf("build template from queries.Migrations: %v", err)
	}
	// The template stays: on a shared server, other test processes use it.
	t.Cleanup(func() {
		if err := h.close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	name, err := h.createDatabase(t.Context(), h.template)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.dropDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
}

// dropTemplate drops a template database, if it exists, at the end of a test.
func dropTemplate(t *testing.T, admin *pgxpool.Pool, name string) {
	t.Helper()
	ctx := context.Background()
	var exists bool
	err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
		name).Scan(&exists)
	if err != nil || !exists {
		return
	}
	for _, sql := range []string{
		"ALTER DATABASE " + quoteIdent(name) + " WITH IS_TEMPLATE false",
		"DROP DATABASE " + quoteIdent(name),
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Errorf("drop template %s: %v", name, err)
			return
		}
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "socket URL",
			in:   "postgres://postgres@/postgres?host=%2Ftmp%2Fx&port=5432&sslmode=disable",
			want: "postgres://postgres@/ferry_test_a?host=%2Ftmp%2Fx&port=5432&sslmode=disable",
		},
		{
			name: "TCP URL with password and dbname parameter",
			in:   "postgresql://u:p%40ss@127.0.0.1:5433/maint?dbname=other&sslmode=disable",
			want: "postgresql://u:p%40ss@127.0.0.1:5433/ferry_test_a?sslmode=disable",
		},
		{
			name: "keyword/value",
			in:   "host=/tmp/x port=5432 user=postgres dbname=postgres ",
			want: "host=/tmp/x port=5432 user=postgres dbname=postgres dbname='ferry_test_a'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := withDatabase(tt.in, "ferry_test_a")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			cfg, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgx cannot parse %s: %v", got, err)
			}
			if cfg.Database != "ferry_test_a" {
				t.Errorf("pgx reads database %q, want ferry_test_a", cfg.Database)
			}
		})
	}
}
