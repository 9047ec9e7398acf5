package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func FuzzCheck(f *testing.F) {
	f.Add(`{"a":[1,{"b":null}],"n":9007199254740993}`)
	f.Add(`{"a":1,"a":2}`)
	f.Add(`{"a":NaN}`)
	f.Add(nested(33))
	f.Fuzz(func(t *testing.T, raw string) {
		err := Check(raw)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Check error %v is a %T, want *Error", err, err)
			}
			return
		}
		if !json.Valid([]byte(raw)) {
			t.Fatalf("Check accepted invalid JSON %q", raw)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &top); err != nil {
			t.Fatalf("Check accepted %q, which is not an object: %v", raw, err)
		}
		merged, err := Merge(raw, "")
		if err != nil {
			t.Fatalf("Merge(%q, \"\"): %v", raw, err)
		}
		if err := Check(merged); err != nil {
			t.Fatalf("Check(Merge(%q)) = %v", raw, err)
		}
	})
}

func FuzzMerge(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":1.50}}`, `{"b":9007199254740993}`)
	f.Add(``, `{"x":"<&>"}`)
	f.Add(`{"é":1}`, `{"\u00e9":2}`)
	f.Fuzz(func(t *testing.T, defaults, overrides string) {
		merged, err := Merge(defaults, overrides)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Merge error %v is a %T, want *Error", err, err)
			}
			return
		}
		if err := Check(merged); err != nil {
			t.Fatalf("Check(%q) = %v", merged, err)
		}
		if again, err := Merge(merged, ""); err != nil || again != merged {
			t.Fatalf("Merge(%q, \"\") = %q, %v; not idempotent", merged, again, err)
		}
		var got, over map[string]json.RawMessage
		if err := json.Unmarshal([]byte(merged), &got); err != nil {
			t.Fatal(err)
		}
		if overrides == "" {
			return
		}
		if err := json.Unmarshal([]byte(overrides), &over); err != nil {
			t.Fatal(err)
		}
		for k, v := range over {
			var want bytes.Buffer
			if err := json.Compact(&want, v); err != nil {
				t.Fatal(err)
			}
			if string(got[k]) != want.String() {
				t.Fatalf("merged[%q] = %s, want the override %s", k, got[k], want.String())
			}
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add(topSchema, `{"top_n":101}`)
	f.Add(`{"properties":{"n":{"maximum":1e3,"multipleOf":0.1}}}`, `{"n":1e1000}`)
	f.Add(`{"items":{"$ref":"#"},"uniqueItems":true}`, `{"a":[[1],[1.0]]}`)
	f.Fuzz(func(t *testing.T, schema, params string) {
		err := Validate(schema, params)
		var perr *Error
		var serr *SchemaError
		if err != nil && !errors.As(err, &perr) && !errors.As(err, &serr) {
			t.Fatalf("Validate error %v is a %T, want *Error or *SchemaError", err, err)
		}
	})
}
