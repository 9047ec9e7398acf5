// Package queries holds Ferry's SQL: numbered, forward-only schema migrations
// and the sqlc query files the control plane's data layer is generated from.
package queries

import "embed"

// Migrations holds the schema migrations, named NNNN_description.sql and
// applied in lexical order.
//
//go:embed migrations/*.sql
var Migrations embed.FS
