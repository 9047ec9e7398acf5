// Package params checks, merges and validates run parameters.
//
// Run parameters travel as JSON text, never as google.protobuf.Struct, so that
// numbers stay exact: 9007199254740993 is not rounded to a float64 and 1.50
// keeps its trailing zero. Every function here decodes numbers as text
// ([encoding/json.Number]) and never through float64.
//
// [Check] enforces the shape every stored parameter object must have: a JSON
// object of at most [MaxSize] bytes, nested at most [MaxDepth] levels, valid
// UTF-8, without duplicate keys and without numbers whose exponent is out of
// range. [Merge] lays a run's parameters over a deployment's defaults.
// [Validate] checks parameters against a deployment's JSON Schema, and
// [CheckSchema] checks that such a schema compiles.
//
// The package never resolves a schema reference outside the schema itself:
// no file and no network access happens while compiling a schema.
package params
