// Package migrate applies Ferry's schema migrations: forward-only SQL files
// named NNNN_name.sql, run in lexical order and recorded in the
// schema_migrations table with a checksum of their content.
//
// A migration is never edited once applied, and never undone: a fix is a
// new file. migrate refuses to run when an applied file has changed.
//
// Known limitation: each migration runs inside a transaction, so statements
// that PostgreSQL forbids there (CREATE INDEX CONCURRENTLY, VACUUM) cannot
// be used in a migration.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey is the pg_advisory_lock key that serializes migrators: the bytes
// of "ferrymig" read as a big-endian integer. Every Ferry version must use
// the same key.
const lockKey int64 = 0x66657272796d6967

// unlockTimeout bounds releasing the advisory lock after Apply's context
// has ended.
const unlockTimeout = 10 * time.Second

// fileNamePattern is the form of a migration file name.
var fileNamePattern = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// ChecksumMismatchError reports that a migration file differs from the one
// that was applied.
type ChecksumMismatchError struct {
	// File is the migration's file name, such as "0002_schedules.sql".
	File string
	// Applied is the SHA-256 (hex) recorded when the file was applied.
	Applied string
	// Current is the SHA-256 (hex) of the file as it is now.
	Current string
}

// Error describes the change and what to do about it.
func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("migrate: %s was changed after it was applied (applied checksum %s, "+
		"file now %s); migrations are forward-only: restore the file and put the change in "+
		"a new migration", e.File, e.Applied, e.Current)
}

// migration is one file of the migration set.
type migration struct {
	name     string
	sql      string
	checksum string
}

// Apply brings the database behind pool up to date with the migrations in
// the root of migrations, and returns the names of the files it applied, in
// order; none when the database was already current.
//
// Apply holds a session-level advisory lock on one connection of pool for
// its whole run, so concurrent callers (several servers starting at once)
// take turns and each file is applied once. Each pending file runs in its
// own transaction together with its schema_migrations row; when one fails,
// the files before it stay applied and Apply returns an error naming it.
//
// Apply fails without applying anything when a file name is not of the form
// NNNN_name.sql, two files share a number, an applied file has changed (a
// [*ChecksumMismatchError]), or the database records a migration that is
// not in migrations (it was migrated by a newer Ferry).
func Apply(
	ctx context.Context,
	pool *pgxpool.Pool,
	migrations fs.FS,
	logger *slog.Logger,
) (applied []string, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	files, err := load(migrations)
	if err != nil {
		return nil, err
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// A lock left on a pooled session would block every later migrator,
		// so when the unlock fails the session is closed, which releases it.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, uerr := conn.Exec(unlockCtx, "SELECT pg_advisory_unlock($1)", lockKey); uerr != nil {
			conn.Conn().Close(unlockCtx)
			err = errors.Join(err, fmt.Errorf("migrate: release advisory lock: %w", uerr))
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    text        PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now(),
		checksum   text        NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done, err := appliedChecksums(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	pending, err := plan(files, done)
	if err != nil {
		return nil, err
	}

	for _, m := range pending {
		began := time.Now()
		if err := applyOne(ctx, conn.Conn(), m); err != nil {
			return applied, err
		}
		applied = append(applied, m.name)
		logger.InfoContext(ctx, "migration applied",
			slog.String("migration", m.name),
			slog.Duration("duration", time.Since(began)))
	}
	return applied, nil
}

// load reads the migration files in the root of fsys, in lexical order.
// Entries that are not .sql files are ignored.
func load(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: list migrations: %w", err)
	}
	var files []migration
	numbers := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := fileNamePattern.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrate: file %s is not named NNNN_name.sql "+
				"(four digits, then lowercase letters, digits and underscores)", e.Name())
		}
		if other, ok := numbers[m[1]]; ok {
			return nil, fmt.Errorf("migrate: %s and %s share the number %s; renumber one",
				other, e.Name(), m[1])
		}
		numbers[m[1]] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		files = append(files, migration{
			name:     e.Name(),
			sql:      string(b),
			checksum: hex.EncodeToString(sum[:]),
		})
	}
	return files, nil
}

// appliedChecksums returns the checksum recorded for each applied migration.
func appliedChecksums(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done := map[string]string{}
	var version, checksum string
	_, err = pgx.ForEachRow(rows, []any{&version, &checksum}, func() error {
		done[version] = checksum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	return done, nil
}

// plan checks files against the applied set and returns those still to run.
func plan(files []migration, done map[string]string) ([]migration, error) {
	known := map[string]bool{}
	var pending []migration
	for _, m := range files {
		known[m.name] = true
		sum, ok := done[m.name]
		if !ok {
			pending = append(pending, m)
			continue
		}
		if sum != m.checksum {
			return nil, &ChecksumMismatchError{File: m.name, Applied: sum, Current: m.checksum}
		}
	}
	for version := range done {
		if !known[version] {
			return nil, fmt.Errorf("migrate: the database has migration %s, which this build "+
				"does not have; it was migrated by a newer Ferry, so run that version", version)
		}
	}
	return pending, nil
}

// applyOne runs one migration and records it, in one transaction.
func applyOne(ctx context.Context, conn *pgx.Conn, m migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Exec without arguments uses the simple protocol, which runs every
		// statement in the file.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			"INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
			m.name, m.checksum)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: apply %s: %w", m.name, err)
	}
	return nil
}
