package migrate_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/migrate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func file(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }

// emptyPool returns a pool on a new database with no schema.
func emptyPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	connString := dbtest.EmptyConnString(t)
	pool, err := pgxpool.New(t.Context(), connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, connString
}

// recorded returns the versions in schema_migrations, in order.
func recorded(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

func TestApplyInOrderThenNothing(t *testing.T) {
	t.Parallel()
	pool, _ := emptyPool(t)
	// Each file depends on the one before it, so a wrong order fails.
	migrations := fstest.MapFS{
		"0002_seed.sql": file(`
			INSERT INTO items (name) VALUES ('a');
			INSERT INTO items (name) VALUES ('b');`),
		"0001_items.sql": file("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);"),
		"0010_index.sql": file("CREATE INDEX items_name_idx ON items (name);"),
		"README.md":      file("not a migration"),
	}
	want := []string{"0001_items.sql", "0002_seed.sql", "0010_index.sql"}

	applied, err := migrate.Apply(t.Context(), pool, migrations, nil)
	if err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	if diff := cmp.Diff(want, applied); diff != "" {
		t.Errorf("first Apply applied (-want +got):\n%s", diff)
	}

	applied, err = migrate.Apply(t.Context(), pool, migrations, nil)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Apply applied %v, want nothing", applied)
	}
	var items int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM items").Scan(&items); err != nil {
		t.Fatal(err)
	}
	if items != 2 {
		t.Errorf("items: got %d rows, want 2 (seed applied once)", items)
	}
	if diff := cmp.Diff(want, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}

	// A new file later is applied on its own.
	migrations["0011_more.sql"] = file("ALTER TABLE items ADD COLUMN note text;")
	applied, err = migrate.Apply(t.Context(), pool, migrations, nil)
	if err != nil {
		t.Fatalf("third Apply: %v", err)
	}
	if diff := cmp.Diff([]string{"0011_more.sql"}, applied); diff != "" {
		t.Errorf("third Apply applied (-want +got):\n%s", diff)
	}
}

func TestFailingMigrationRollsBackOnlyItself(t *testing.T) {
	t.Parallel()
	pool, _ := emptyPool(t)
	migrations := fstest.MapFS{
		"0001_ok.sql": file("CREATE TABLE first (id int);"),
		// The table is created, then the file fails: both must roll back.
		"0002_bad.sql":   file("CREATE TABLE second (id int); SELECT no_such_column FROM first;"),
		"0003_after.sql": file("CREATE TABLE third (id int);"),
	}

	applied, err := migrate.Apply(t.Context(), pool, migrations, nil)
	if err == nil {
		t.Fatal("Apply with a failing migration returned no error")
	}
	if !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Errorf("error %q does not name the failing file", err)
	}
	if diff := cmp.Diff([]string{"0001_ok.sql"}, applied); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0001_ok.sql"}, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
	tables := map[string]bool{}
	for _, name := range []string{"first", "second", "third"} {
		var exists bool
		if err := pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		tables[name] = exists
	}
	if diff := cmp.Diff(map[string]bool{"first": true, "second": false, "third": false}, tables); diff != "" {
		t.Errorf("tables present (-want +got):\n%s", diff)
	}

	// Fixed, the rest applies.
	migrations["0002_bad.sql"] = file("CREATE TABLE second (id int);")
	applied, err = migrate.Apply(t.Context(), pool, migrations, nil)
	if err != nil {
		t.Fatalf("Apply after the fix: %v", err)
	}
	if diff := cmp.Diff([]string{"0002_bad.sql", "0003_after.sql"}, applied); diff != "" {
		t.Errorf("applied after the fix (-want +got):\n%s", diff)
	}
}

func TestChangedMigrationIsRefused(t *testing.T) {
	t.Parallel()
	pool, _ := emptyPool(t)
	migrations := fstest.MapFS{
		"0001_items.sql": file("CREATE TABLE items (id int);"),
	}
	if _, err := migrate.Apply(t.Context(), pool, migrations, nil); err != nil {
		t.Fatal(err)
	}

	migrations["0001_items.sql"] = file("CREATE TABLE items (id bigint);")
	migrations["0002_more.sql"] = file("CREATE TABLE more (id int);")
	applied, err := migrate.Apply(t.Context(), pool, migrations, nil)
	var mismatch *migrate.ChecksumMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Apply after editing an applied file: got %v, want a ChecksumMismatchError", err)
	}
	if mismatch.File != "0001_items.sql" {
		t.Errorf("mismatch names %s, want 0001_items.sql", mismatch.File)
	}
	if !strings.Contains(err.Error(), "0001_items.sql") {
		t.Errorf("error %q does not name the file", err)
	}
	if len(applied) != 0 {
		t.Errorf("applied %v despite the mismatch", applied)
	}
	if diff := cmp.Diff([]string{"0001_items.sql"}, recorded(t, pool)); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

func TestInvalidSetsAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		applied fstest.MapFS
		files   fstest.MapFS
		want    string
	}{
		{
			name:  "bad file name",
			files: fstest.MapFS{"1_items.sql": file("SELECT 1;")},
			want:  "1_items.sql is not named NNNN_name.sql",
		},
		{
			name: "shared number",
			files: fstest.MapFS{
				"0001_a.sql": file("SELECT 1;"),
				"0001_b.sql": file("SELECT 1;"),
			},
			want: "0001_a.sql and 0001_b.sql share the number 0001",
		},
		{
			name: "database newer than the build",
			applied: fstest.MapFS{
				"0001_a.sql": file("SELECT 1;"),
				"0002_b.sql": file("SELECT 1;"),
			},
			files: fstest.MapFS{"0001_a.sql": file("SELECT 1;")},
			want:  "the database has migration 0002_b.sql, which this build does not have",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := emptyPool(t)
			if tt.applied != nil {
				if _, err := migrate.Apply(t.Context(), pool, tt.applied, nil); err != nil {
					t.Fatal(err)
				}
			}
			_, err := migrate.Apply(t.Context(), pool, tt.files, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConcurrentApplyAppliesEachFileOnce(t *testing.T) {
	t.Parallel()
	_, connString := emptyPool(t)
	// CREATE TABLE without IF NOT EXISTS fails if a file runs twice, and the
	// counter records every execution.
	migrations := fstest.MapFS{
		"0001_counter.sql": file("CREATE TABLE runs (file text NOT NULL); INSERT INTO runs VALUES ('0001');"),
		"0002_a.sql":       file("CREATE TABLE a (id int); INSERT INTO runs VALUES ('0002');"),
		"0003_b.sql":       file("CREATE TABLE b (id int); INSERT INTO runs VALUES ('0003');"),
	}

	const servers = 4
	results := make([][]string, servers)
	errs := make([]error, servers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range servers {
		// Each server has its own pool, as separate processes would.
		pool, err := pgxpool.New(t.Context(), connString)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := pool.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			results[i], errs[i] = migrate.Apply(t.Context(), pool, migrations, nil)
		})
	}
	close(start)
	wg.Wait()

	var all []string
	for i := range servers {
		if errs[i] != nil {
			t.Errorf("server %d: %v", i, errs[i])
		}
		all = append(all, results[i]...)
	}
	want := []string{"0001_counter.sql", "0002_a.sql", "0003_b.sql"}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("applied across servers (-want +got):\n%s", diff)
	}

	pool, err := pgxpool.New(t.Context(), connString)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(t.Context(), "SELECT file FROM runs ORDER BY file")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"0001", "0002", "0003"}, runs); diff != "" {
		t.Errorf("executions (-want +got):\n%s", diff)
	}
}

func TestLockReleasedAfterApply(t *testing.T) {
	t.Parallel()
	pool, _ := emptyPool(t)
	migrations := fstest.MapFS{"0001_a.sql": file("CREATE TABLE a (id int);")}
	if _, err := migrate.Apply(t.Context(), pool, migrations, nil); err != nil {
		t.Fatal(err)
	}
	var held int
	err := pool.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
	).Scan(&held)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d advisory locks still held after Apply", held)
	}
}
