package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// ReadPlanned runs fn in a read-only, repeatable-read transaction in which
// every statement is planned for the parameter values it is given.
//
// Queries that serve many filter combinations with "unset OR condition"
// clauses (RunList) need this. pgx prepares each statement once per
// connection, and after a few executions PostgreSQL may switch a prepared
// statement to a generic plan made without the values; a generic plan
// cannot drop the unset filters and may walk a whole index where a custom
// plan reads a few pages. Repeatable read gives fn one snapshot, so several
// counts taken by fn agree with each other.
func (s *Store) ReadPlanned(ctx context.Context, fn func(q db.Querier) error) error {
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // Rollback after Commit is a no-op.
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return fmt.Errorf("plan for parameters: %w", err)
	}
	var q db.Querier = db.New(tx)
	if s.wrap != nil {
		q = s.wrap(q)
	}
	if err := fn(q); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit read transaction: %w", err)
	}
	return nil
}
