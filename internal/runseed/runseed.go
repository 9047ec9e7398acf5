// Package runseed fills a Ferry database with many synthetic runs at once,
// for the tests and benchmarks that need a large runs table (the runs page
// and dashboard with 1,000,000 runs). It writes straight to the database
// and is never used by the control plane itself.
package runseed

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

//go:embed seed.sql
var seedSQL string

// Config says what [Seed] creates.
type Config struct {
	// WorkspaceID is the workspace the runs belong to. Its deployments must
	// exist already; at least one is required.
	WorkspaceID uuid.UUID
	// Runs is how many runs to create. Required.
	Runs int
	// End is the create time of the newest run.
	End time.Time
	// Span is how far back before End the runs are spread, evenly. Required.
	Span time.Duration
}

// Seed inserts cfg.Runs runs into the workspace, then vacuums and analyzes
// the runs table, as autovacuum would on a server, so that the planner has
// statistics and index-only scans can skip the heap.
//
// The runs are spread over the workspace's deployments in name order, the
// first taking half, the next a quarter and so on, the last the rest. Their
// states are fixed by a hash of their number: 85% COMPLETED, 5% FAILED, 1%
// CRASHED, 2% CANCELLED, 0.5% CANCELLING, 2% RUNNING, 1.5% PENDING and 3%
// SCHEDULED (a tenth of those awaiting a retry, the rest Late unless
// created within the late-after margin). Each run carries its deployment's
// tags, one of env-prod (90%) and env-dev (10%), one of shard-0 to shard-99
// (1% each), and one run in 10,000 the tag vip. The same Config always
// gives the same runs, apart from their random ids.
//
// To be fast it drops the runs table's indexes, except those behind
// constraints, inserts from [parallelism] connections at once, skipping
// foreign key checks (session_replication_role = replica, which needs a
// superuser; the rows are consistent by construction), and rebuilds the
// indexes, again in parallel. Nothing else may write runs meanwhile, and
// on error the runs table may be left without its indexes: seed a database
// of its own.
func Seed(ctx context.Context, pool *pgxpool.Pool, cfg Config) error {
	if cfg.Runs <= 0 || cfg.Span <= 0 {
		return errors.New("seed runs: Runs and Span must be positive")
	}
	indexes, err := dropIndexes(ctx, pool)
	if err != nil {
		return err
	}
	var inserted atomic.Int64
	part := (cfg.Runs + parallelism - 1) / parallelism
	err = each(ctx, parallelism, func(ctx context.Context, k int) error {
		first, end := k*part, min((k+1)*part, cfg.Runs)
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				return fmt.Errorf("seed runs: skip foreign key checks: %w", err)
			}
			tag, err := tx.Exec(ctx, seedSQL, cfg.WorkspaceID, cfg.Runs, cfg.End, cfg.Span.Seconds(), first, end)
			if err != nil {
				return fmt.Errorf("seed runs: insert: %w", err)
			}
			inserted.Add(tag.RowsAffected())
			return nil
		})
	})
	if err != nil {
		return err
	}
	if n := inserted.Load(); n != int64(cfg.Runs) {
		return fmt.Errorf("seed runs: inserted %d runs, want %d (does the workspace have deployments?)", n, cfg.Runs)
	}
	var next atomic.Int64
	err = each(ctx, parallelism, func(ctx context.Context, _ int) error {
		for i := int(next.Add(1)) - 1; i < len(indexes); i = int(next.Add(1)) - 1 {
			if _, err := pool.Exec(ctx, indexes[i]); err != nil {
				return fmt.Errorf("seed runs: rebuild index: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) runs"); err != nil {
		return fmt.Errorf("seed runs: vacuum: %w", err)
	}
	return nil
}

// parallelism is how many connections insert and build indexes at once:
// the two cores of a small machine.
const parallelism = 2

// each runs fn(ctx, 0) to fn(ctx, n-1) at once and returns the first error.
func each(ctx context.Context, n int, fn func(ctx context.Context, k int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for k := range n {
		g.Go(func() error { return fn(ctx, k) })
	}
	return g.Wait()
}

// dropIndexes drops the indexes of the runs table that no constraint owns
// and returns the statements that create them again.
func dropIndexes(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed runs: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // Rollback after Commit is a no-op.
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = 'runs'::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("seed runs: list indexes: %w", err)
	}
	type index struct{ name, def string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		err := r.Scan(&ix.name, &ix.def)
		return ix, err
	})
	if err != nil {
		return nil, fmt.Errorf("seed runs: list indexes: %w", err)
	}
	defs := make([]string, 0, len(list))
	for _, ix := range list {
		// regclass::text is already quoted where needed.
		if _, err := tx.Exec(ctx, "DROP INDEX "+ix.name); err != nil {
			return nil, fmt.Errorf("seed runs: drop index %s: %w", ix.name, err)
		}
		defs = append(defs, ix.def)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("seed runs: commit: %w", err)
	}
	return defs, nil
}
