package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/store"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestRegisterUUIDRoundTrips(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dbtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = store.RegisterUUID
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()

	tests := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"uuid", "SELECT $1::uuid::text", []any{a}, a.String()},
		{"valid NullUUID", "SELECT $1::uuid::text", []any{uuid.NullUUID{UUID: b, Valid: true}}, b.String()},
		{"null NullUUID", "SELECT coalesce($1::uuid::text, 'null')", []any{uuid.NullUUID{}}, "null"},
		{"array", "SELECT array_to_string($1::uuid[], ',')", []any{[]uuid.UUID{a, b}}, a.String() + "," + b.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := pool.QueryRow(ctx, tt.sql, tt.args...).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	var u uuid.UUID
	var nu, nnull uuid.NullUUID
	var many []uuid.UUID
	err = pool.QueryRow(ctx, "SELECT $1::text::uuid, $2::text::uuid, NULL::uuid, ARRAY[$1::text::uuid, $2::text::uuid]",
		a.String(), b.String()).Scan(&u, &nu, &nnull, &many)
	if err != nil {
		t.Fatal(err)
	}
	if u != a || nu != (uuid.NullUUID{UUID: b, Valid: true}) || nnull.Valid || len(many) != 2 || many[1] != b {
		t.Errorf("scanned %v %v %v %v", u, nu, nnull, many)
	}
}
