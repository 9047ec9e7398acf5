// Package gencheck holds the test that fails when the committed generated
// code (protobuf, Connect, sqlc) differs from what `make generate` produces.
package gencheck
