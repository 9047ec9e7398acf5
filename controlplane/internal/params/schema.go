package params

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	// MaxSchemaDepth is the deepest accepted nesting of a parameters schema.
	// It is twice [MaxDepth] because each level of an instance takes two in
	// a schema ("properties", then the property's name).
	MaxSchemaDepth = 2 * MaxDepth
	// schemaCacheSize bounds the compiled schemas kept in memory: a
	// deployment version has one schema and few versions are hot at once.
	schemaCacheSize = 256
	// schemaURL names the schema being compiled; it is never fetched.
	schemaURL = "urn:ferry:parameters-schema"
)

var schemaLimits = limits{size: MaxSize, depth: MaxSchemaDepth}

// schemas caches compiled schemas by the SHA-256 of their text.
var schemas = newSchemaCache(schemaCacheSize)

// SchemaError says why a parameters schema was rejected. Its text is safe to
// show to the client that sent the schema.
type SchemaError struct {
	// Reason says what is wrong with the schema.
	Reason string
}

// Error returns the reason, prefixed to say it concerns the schema.
func (e *SchemaError) Error() string {
	return "invalid parameters schema: " + e.Reason
}

// CheckSchema reports whether schemaJSON is an acceptable parameters schema:
// JSON text passing the checks of [Check] (with [MaxSchemaDepth] instead of
// [MaxDepth]) that compiles as a JSON Schema, draft 2020-12 unless its
// "$schema" names another draft. References may point inside the schema or
// to the standard meta-schemas; any other reference is rejected rather than
// loaded. CheckSchema returns nil or a [*SchemaError]; results are cached,
// so repeated calls with the same text are cheap. It is safe for concurrent
// use.
func CheckSchema(schemaJSON string) error {
	_, err := schemas.get(schemaJSON)
	return err
}

// Validate checks paramsJSON against the JSON Schema schemaJSON. The
// parameters must pass [Check] (the empty string counts as {}); an empty
// schema accepts any parameters. Numbers are compared exactly, so 2^53+1
// stays distinct from 2^53. Validate returns a [*SchemaError] when the
// schema is rejected, or an [*Error] naming the first offending parameter,
// such as `parameter "top_n": must be <= 100`. It is safe for concurrent use.
func Validate(schemaJSON, paramsJSON string) error {
	if paramsJSON == "" {
		paramsJSON = "{}"
	}
	if err := Check(paramsJSON); err != nil {
		return err
	}
	if schemaJSON == "" {
		return nil
	}
	sch, err := schemas.get(schemaJSON)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(paramsJSON))
	if err != nil {
		return fmt.Errorf("decode parameters: %w", err)
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate parameters: %w", err)
	}
	path, reason := firstViolation(verr)
	return &Error{Path: instancePath(inst, path), Reason: reason}
}

// compile compiles schemaJSON after checking its text.
func compile(schemaJSON string) (*jsonschema.Schema, error) {
	if err := check(schemaJSON, schemaLimits); err != nil {
		return nil, &SchemaError{Reason: err.Error()}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schemaJSON))
	if err != nil {
		return nil, &SchemaError{Reason: err.Error()}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// The default loader reads file:// URLs from the control plane's disk.
	c.UseLoader(refusingLoader{})
	// A form built from the schema promises "format" checks to its users.
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, &SchemaError{Reason: oneLine(err.Error())}
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, &SchemaError{Reason: compileReason(err)}
	}
	return sch, nil
}

// errExternalRef is returned by [refusingLoader] for every URL.
var errExternalRef = errors.New("references outside the schema are not allowed")

// refusingLoader refuses to load any schema by URL; standard meta-schemas are
// embedded in the library and never reach a loader.
type refusingLoader struct{}

// Load refuses url.
func (refusingLoader) Load(url string) (any, error) {
	return nil, errExternalRef
}

// compileReason renders a compile error in one line.
func compileReason(err error) string {
	var serr *jsonschema.SchemaValidationError
	if errors.As(err, &serr) {
		var verr *jsonschema.ValidationError
		if errors.As(serr.Err, &verr) {
			path, reason := firstViolation(verr)
			return fmt.Sprintf("at %q: %s", "/"+strings.Join(path, "/"), reason)
		}
	}
	var lerr *jsonschema.LoadURLError
	if errors.As(err, &lerr) && errors.Is(lerr.Err, errExternalRef) {
		return fmt.Sprintf("reference %q: %s", lerr.URL, errExternalRef)
	}
	return oneLine(err.Error())
}

// oneLine joins a multi-line library message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// instancePath renders a JSON Schema instance location as a parameter path,
// walking inst to tell array indexes from object keys.
func instancePath(inst any, tokens []string) string {
	var b strings.Builder
	cur := inst
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			writeKey(&b, tok)
			cur = v[tok]
		default:
			writeKey(&b, tok)
			cur = nil
		}
	}
	return b.String()
}

// schemaCache is a bounded map from schema text to its compile result that
// drops the least recently used entry when full.
type schemaCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of *cacheEntry, most recently used first
	entries map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	key    [sha256.Size]byte
	schema *jsonschema.Schema
	err    error
}

func newSchemaCache(max int) *schemaCache {
	return &schemaCache{
		max:     max,
		order:   list.New(),
		entries: make(map[[sha256.Size]byte]*list.Element),
	}
}

// get returns the compiled schema, compiling it on a miss. Two callers that
// miss at once both compile; the result is the same.
func (c *schemaCache) get(schemaJSON string) (*jsonschema.Schema, error) {
	key := sha256.Sum256([]byte(schemaJSON))
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		return e.schema, e.err
	}
	c.mu.Unlock()

	sch, err := compile(schemaJSON)

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		c.entries[key] = c.order.PushFront(&cacheEntry{key: key, schema: sch, err: err})
		if c.order.Len() > c.max {
			oldest := c.order.Back()
			c.order.Remove(oldest)
			delete(c.entries, oldest.Value.(*cacheEntry).key)
		}
	}
	return sch, err
}

// len reports the number of cached schemas.
func (c *schemaCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// ratString renders r exactly: as an integer, as a terminating decimal, or
// as a fraction when no short decimal is exact.
func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	for digits := 1; digits <= 30; digits++ {
		s := r.FloatString(digits)
		if back, ok := new(big.Rat).SetString(s); ok && back.Cmp(r) == 0 {
			return s
		}
	}
	return r.RatString()
}
