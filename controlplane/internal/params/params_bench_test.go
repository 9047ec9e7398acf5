package params

import "testing"

// benchDefaults and benchOverrides look like a deployment's defaults and a
// run's parameters: a handful of top-level keys, one nested object.
const (
	benchDefaults  = `{"region":"eu-west-1","top_n":10,"dry_run":false,"output":{"format":"md","dir":"/tmp/out"},"tags":["a","b"]}`
	benchOverrides = `{"top_n":25,"dry_run":true}`
	benchSchema    = `{
		"type": "object",
		"properties": {
			"region": {"type": "string", "pattern": "^[a-z]+-[a-z]+-[0-9]$"},
			"top_n": {"type": "integer", "minimum": 1, "maximum": 100},
			"dry_run": {"type": "boolean"},
			"output": {
				"type": "object",
				"properties": {
					"format": {"enum": ["md", "json"]},
					"dir": {"type": "string", "minLength": 1}
				},
				"required": ["format"]
			},
			"tags": {"type": "array", "items": {"type": "string"}, "maxItems": 32}
		},
		"required": ["region", "top_n"],
		"additionalProperties": false
	}`
)

func BenchmarkMerge(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(benchDefaults, benchOverrides); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	merged, err := Merge(benchDefaults, benchOverrides)
	if err != nil {
		b.Fatal(err)
	}
	// The first call compiles the schema; the loop measures the cached path
	// that every run creation takes.
	if err := Validate(benchSchema, merged); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(benchSchema, merged); err != nil {
			b.Fatal(err)
		}
	}
}
