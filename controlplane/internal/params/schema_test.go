package params

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const topSchema = `{
	"type": "object",
	"properties": {
		"top_n": {"type": "integer", "minimum": 1, "maximum": 100},
		"ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.75},
		"step": {"multipleOf": 0.25},
		"id": {"type": "integer", "maximum": 9007199254740992},
		"exact": {"const": 9007199254740993},
		"mode": {"enum": ["fast", "safe"]},
		"name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-zé]+$"},
		"email": {"type": "string", "format": "email"},
		"files": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": true},
		"limits": {
			"type": "object",
			"properties": {"cpu": {"type": "number", "minimum": 0.1}},
			"required": ["cpu"],
			"additionalProperties": false
		},
		"a.b": {"type": "boolean"},
		"pair": {"prefixItems": [{"type": "integer"}, {"type": "string"}]},
		"either": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
		"never": false
	},
	"required": ["top_n"],
	"dependentRequired": {"email": ["name"]}
}`

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema string
		params string
		want   *Error
	}{
		{name: "valid", schema: topSchema, params: `{"top_n":100,"ratio":0.5,"step":1.75,"mode":"safe","name":"éa","files":["a","b"],"limits":{"cpu":0.1},"pair":[1,"x"],"either":true}`},
		{name: "empty schema accepts anything", params: `{"x":[1,{"y":null}]}`},
		{name: "empty params count as {}", schema: `{"type":"object"}`},
		{name: "2^53 at maximum", schema: topSchema, params: `{"top_n":1,"id":9007199254740992}`},
		{name: "2^53+1 equals const", schema: topSchema, params: `{"top_n":1,"exact":9007199254740993}`},
		{name: "integer written as 1.0", schema: topSchema, params: `{"top_n":1.0}`},

		{name: "maximum", schema: topSchema, params: `{"top_n":101}`, want: &Error{Path: "top_n", Reason: "must be <= 100"}},
		{name: "minimum", schema: topSchema, params: `{"top_n":0}`, want: &Error{Path: "top_n", Reason: "must be >= 1"}},
		{name: "2^53+1 over maximum 2^53", schema: topSchema, params: `{"top_n":1,"id":9007199254740993}`, want: &Error{Path: "id", Reason: "must be <= 9007199254740992"}},
		{name: "2^53 is not const 2^53+1", schema: topSchema, params: `{"top_n":1,"exact":9007199254740992}`, want: &Error{Path: "exact", Reason: "must be 9007199254740993"}},
		{name: "exclusive maximum decimal", schema: topSchema, params: `{"top_n":1,"ratio":0.75}`, want: &Error{Path: "ratio", Reason: "must be < 0.75"}},
		{name: "exclusive minimum", schema: topSchema, params: `{"top_n":1,"ratio":0}`, want: &Error{Path: "ratio", Reason: "must be > 0"}},
		{name: "multiple of", schema: topSchema, params: `{"top_n":1,"step":0.3}`, want: &Error{Path: "step", Reason: "must be a multiple of 0.25"}},
		{name: "type", schema: topSchema, params: `{"top_n":"5"}`, want: &Error{Path: "top_n", Reason: "must be integer, got string"}},
		{name: "fraction is not integer", schema: topSchema, params: `{"top_n":1.5}`, want: &Error{Path: "top_n", Reason: "must be integer, got number"}},
		{name: "required", schema: topSchema, params: `{}`, want: &Error{Path: "top_n", Reason: "is required"}},
		{name: "enum", schema: topSchema, params: `{"top_n":1,"mode":"slow"}`, want: &Error{Path: "mode", Reason: `must be one of "fast", "safe"`}},
		{name: "min length counts characters", schema: topSchema, params: `{"top_n":1,"name":"é"}`, want: &Error{Path: "name", Reason: "must be at least 2 characters long"}},
		{name: "max length", schema: topSchema, params: `{"top_n":1,"name":"abcde"}`, want: &Error{Path: "name", Reason: "must be at most 4 characters long"}},
		{name: "pattern", schema: topSchema, params: `{"top_n":1,"name":"AB"}`, want: &Error{Path: "name", Reason: `must match the pattern "^[a-zé]+$"`}},
		{name: "format asserted", schema: topSchema, params: `{"top_n":1,"name":"ab","email":"not an address"}`, want: &Error{Path: "email", Reason: "must be a valid email"}},
		{name: "array item path", schema: topSchema, params: `{"top_n":1,"files":["a","b",3]}`, want: &Error{Path: "files[2]", Reason: "must be string, got number"}},
		{name: "max items", schema: topSchema, params: `{"top_n":1,"files":["a","b","c","d"]}`, want: &Error{Path: "files", Reason: "must have at most 3 items"}},
		{name: "unique items", schema: topSchema, params: `{"top_n":1,"files":["a","a"]}`, want: &Error{Path: "files", Reason: "must have unique items; items 0 and 1 are equal"}},
		{name: "nested required", schema: topSchema, params: `{"top_n":1,"limits":{}}`, want: &Error{Path: "limits.cpu", Reason: "is required"}},
		{name: "nested minimum", schema: topSchema, params: `{"top_n":1,"limits":{"cpu":0.09}}`, want: &Error{Path: "limits.cpu", Reason: "must be >= 0.1"}},
		{name: "additional property", schema: topSchema, params: `{"top_n":1,"limits":{"cpu":1,"gpu":1}}`, want: &Error{Path: "limits.gpu", Reason: "is not allowed"}},
		{name: "key with a dot", schema: topSchema, params: `{"top_n":1,"a.b":1}`, want: &Error{Path: `["a.b"]`, Reason: "must be boolean, got number"}},
		{name: "prefixItems is draft 2020-12", schema: topSchema, params: `{"top_n":1,"pair":["x"]}`, want: &Error{Path: "pair[0]", Reason: "must be integer, got string"}},
		{name: "anyOf", schema: topSchema, params: `{"top_n":1,"either":"x"}`, want: &Error{Path: "either", Reason: "must match at least one of the allowed schemas (anyOf)"}},
		{name: "false schema", schema: topSchema, params: `{"top_n":1,"never":1}`, want: &Error{Path: "never", Reason: "is not allowed"}},
		{name: "dependent required", schema: topSchema, params: `{"top_n":1,"email":"a@example.com"}`, want: &Error{Path: "name", Reason: `is required when "email" is present`}},
		{name: "params checked first", schema: topSchema, params: `{"top_n":1,"top_n":2}`, want: &Error{Path: "top_n", Reason: "duplicate key"}},
		{name: "params must be an object", schema: `{}`, params: `[]`, want: &Error{Reason: "must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkError(t, Validate(tt.schema, tt.params), tt.want)
		})
	}
}

func TestValidateMessage(t *testing.T) {
	t.Parallel()
	err := Validate(topSchema, `{"top_n":101}`)
	if got, want := fmt.Sprint(err), `parameter "top_n": must be <= 100`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestValidatePicksTheSameViolation(t *testing.T) {
	t.Parallel()
	// Several violations at once; the library reports them in map order.
	params := `{"top_n":1000,"mode":"x","name":"ABCDEFG","files":[1,2,3,4,5],"limits":{"gpu":1}}`
	first := Validate(topSchema, params)
	if first == nil {
		t.Fatal("Validate accepted invalid parameters")
	}
	for range 50 {
		if err := Validate(topSchema, params); err.Error() != first.Error() {
			t.Fatalf("Validate = %q, earlier %q", err, first)
		}
	}
}

func TestValidateRejectsBadSchema(t *testing.T) {
	t.Parallel()
	err := Validate(`{"type":"objekt"}`, `{}`)
	var serr *SchemaError
	if !errors.As(err, &serr) {
		t.Fatalf("Validate error = %v, want *SchemaError", err)
	}
}

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	deep := func(depth int) string {
		// Each level adds "properties" and "p": two levels of nesting.
		s := `{}`
		for range (depth - 1) / 2 {
			s = `{"properties":{"p":` + s + `}}`
		}
		if depth%2 == 0 {
			s = `{"items":` + s + `}`
		}
		return s
	}
	tests := []struct {
		name   string
		schema string
		// want is the error text, a prefix when it ends in "…"; empty
		// means accepted.
		want string
	}{
		{name: "empty object", schema: `{}`},
		{name: "full schema", schema: topSchema},
		{name: "internal reference", schema: `{"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}}}`},
		{name: "draft-07 by $schema", schema: `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{},"type":"object"}`},
		{name: "draft 2020-12 by $schema", schema: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`},
		{name: "unicode", schema: `{"title":"パラメータ 🚀","properties":{"名前":{"type":"string"}}}`},
		{name: "depth 64", schema: deep(MaxSchemaDepth)},

		{name: "boolean schema", schema: `true`, want: "invalid parameters schema: must be a JSON object"},
		{name: "array", schema: `[]`, want: "invalid parameters schema: must be a JSON object"},
		{name: "not JSON", schema: `{type: object}`, want: "invalid parameters schema: invalid JSON at offset 1: …"},
		{name: "duplicate key", schema: `{"type":"object","type":"string"}`, want: `invalid parameters schema: parameter "type": duplicate key`},
		{name: "unknown type", schema: `{"properties":{"a":{"type":"objekt"}}}`, want: `invalid parameters schema: at "/properties/a/type": must match at least one of the allowed schemas (anyOf)`},
		{name: "minimum not a number", schema: `{"minimum":"1"}`, want: `invalid parameters schema: at "/minimum": must be number, got string`},
		{name: "bad regex", schema: `{"pattern":"("}`, want: `invalid parameters schema: at "/pattern": must be a valid regex`},
		{name: "file reference", schema: `{"$ref":"file:///etc/passwd"}`, want: `invalid parameters schema: reference "file:///etc/passwd": references outside the schema are not allowed`},
		{name: "http reference", schema: `{"properties":{"a":{"$ref":"https://example.com/s.json"}}}`, want: `invalid parameters schema: reference "https://example.com/s.json": references outside the schema are not allowed`},
		{name: "unknown meta-schema", schema: `{"$schema":"https://example.com/meta"}`, want: `invalid parameters schema: reference "https://example.com/meta": references outside the schema are not allowed`},
		{name: "depth 65", schema: deep(MaxSchemaDepth + 1), want: "invalid parameters schema: parameter \"" + strings.TrimSuffix(strings.Repeat("properties.p.", 32), ".") + "\": nests deeper than 64 levels"},
		{name: "too large", schema: `{"description":"` + strings.Repeat("x", MaxSize) + `"}`, want: "invalid parameters schema: must be at most 65536 bytes, got 65554"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSchema(tt.schema)
			got := ""
			if err != nil {
				got = err.Error()
				var serr *SchemaError
				if !errors.As(err, &serr) {
					t.Errorf("error %v (%T) is not a *SchemaError", err, err)
				}
			}
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok && strings.HasPrefix(got, prefix) {
				got = tt.want
			}
			if got != tt.want {
				t.Errorf("CheckSchema error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSchemaCache(t *testing.T) {
	t.Parallel()
	c := newSchemaCache(2)
	a, err := c.get(`{"title":"a"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(`{"title":"b"}`); err != nil {
		t.Fatal(err)
	}
	// Touch a, so that adding c evicts b, the least recently used.
	if again, _ := c.get(`{"title":"a"}`); again != a {
		t.Error("second get of the same text compiled it again")
	}
	if _, err := c.get(`{"title":"c"}`); err != nil {
		t.Fatal(err)
	}
	var titles []string
	for el := c.order.Front(); el != nil; el = el.Next() {
		titles = append(titles, el.Value.(*cacheEntry).schema.Title)
	}
	if diff := cmp.Diff([]string{"c", "a"}, titles); diff != "" {
		t.Errorf("cached schemas, most recent first (-want +got):\n%s", diff)
	}

	// Failures are cached as well, and the bound holds.
	for i := range 5 {
		if _, err := c.get(fmt.Sprintf(`{"type":%d}`, i)); err == nil {
			t.Fatal("get accepted an invalid schema")
		}
	}
	if got := c.len(); got != 2 {
		t.Errorf("cache holds %d entries, want 2", got)
	}
}

func TestValidateConcurrently(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			schema := fmt.Sprintf(`{"properties":{"n":{"maximum":%d}}}`, i%4)
			if err := Validate(schema, fmt.Sprintf(`{"n":%d}`, i%4)); err != nil {
				errs <- err
			}
			if err := Validate(schema, `{"n":10}`); err == nil {
				errs <- fmt.Errorf("schema %s accepted 10", schema)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
