// Package queries holds Ferry's SQL: numbered, forward-only schema migrations
// and the sqlc query files the control plane's data layer is generated from.
package queries

import (
	"embed"
	"io/fs"
)

// Migrations holds the schema migrations, named NNNN_description.sql and
// applied in lexical order.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// MigrationsDir returns the migration files at the root of an fs.FS.
func MigrationsDir() fs.FS {
	sub, err := fs.Sub(Migrations, "migrations")
	if err != nil {
		panic("queries: embedded migrations missing: " + err.Error())
	}
	return sub
}
