// Command seedruns fills the embedded database of a running `ferry server`
// with many synthetic runs of its default workspace's deployments, for the
// web UI's scale test. It writes straight to the database (see
// internal/runseed) and prints how many runs it wrote and how long it took.
//
//	seedruns -data-dir DIR [-runs 1000000] [-span 720h]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/bench/internal/serverproc"
	"github.com/ferryhq/ferry/internal/runseed"
)

func main() {
	dataDir := flag.String("data-dir", "", "data directory of the running ferry server (required)")
	runs := flag.Int("runs", 1_000_000, "how many runs to create")
	span := flag.Duration("span", 30*24*time.Hour, "how far back from now the runs are spread")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *dataDir, *runs, *span); err != nil {
		fmt.Fprintln(os.Stderr, "seedruns:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir string, runs int, span time.Duration) error {
	if dataDir == "" {
		return fmt.Errorf("-data-dir is required")
	}
	dbURL, err := serverproc.EmbeddedDatabaseURL(dataDir)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to the server's PostgreSQL: %w", err)
	}
	defer pool.Close()
	var ws uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT id FROM workspaces WHERE name = 'default'").Scan(&ws); err != nil {
		return fmt.Errorf("find the default workspace: %w", err)
	}
	start := time.Now()
	if err := runseed.Seed(ctx, pool, runseed.Config{WorkspaceID: ws, Runs: runs, End: time.Now(), Span: span}); err != nil {
		return err
	}
	fmt.Printf("seeded %d runs in %.1fs\n", runs, time.Since(start).Seconds())
	return nil
}
