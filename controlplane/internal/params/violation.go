package params

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// violation is one leaf of a schema validation error.
type violation struct {
	path   []string
	reason string
}

// maxEnumShown bounds the allowed values listed in an enum violation.
const maxEnumShown = 10

// firstViolation picks one violation from a validation error tree and
// returns its instance location and a readable reason. The library builds
// the tree in map order, so the pick is the smallest by path then reason,
// which keeps the message stable across runs.
func firstViolation(verr *jsonschema.ValidationError) ([]string, string) {
	var all []violation
	collect(verr, &all)
	if len(all) == 0 {
		return verr.InstanceLocation, "does not match the schema"
	}
	best := slices.MinFunc(all, func(a, b violation) int {
		if c := strings.Compare(strings.Join(a.path, "\x00"), strings.Join(b.path, "\x00")); c != 0 {
			return c
		}
		return strings.Compare(a.reason, b.reason)
	})
	return best.path, best.reason
}

// collect appends the leaves of e to out. Alternatives (anyOf, oneOf) are
// reported as one violation, since the failures of each branch would only
// confuse.
func collect(e *jsonschema.ValidationError, out *[]violation) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		*out = append(*out, describe(e))
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, describe(e))
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

// describe renders one violation. Kinds about a missing or extra property
// are located at that property rather than at its parent object.
func describe(e *jsonschema.ValidationError) violation {
	at := e.InstanceLocation
	child := func(name string) []string {
		return append(slices.Clip(at), name)
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return violation{child(k.Missing[0]), "is required"}
	case *kind.DependentRequired:
		return violation{child(k.Missing[0]), fmt.Sprintf("is required when %q is present", k.Prop)}
	case *kind.Dependency:
		return violation{child(k.Missing[0]), fmt.Sprintf("is required when %q is present", k.Prop)}
	case *kind.AdditionalProperties:
		return violation{child(k.Properties[0]), "is not allowed"}
	case *kind.PropertyNames:
		return violation{child(k.Property), "is not an allowed name"}
	}
	return violation{at, reason(e.ErrorKind)}
}

// reason renders a kind as a phrase completing "parameter x ...".
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		if len(k.Want) > maxEnumShown {
			return fmt.Sprintf("must be one of the %d allowed values", len(k.Want))
		}
		shown := make([]string, len(k.Want))
		for i, v := range k.Want {
			shown[i] = display(v)
		}
		return "must be one of " + strings.Join(shown, ", ")
	case *kind.Const:
		return "must be " + display(k.Want)
	case *kind.Format:
		return "must be a valid " + k.Want
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.AdditionalItems:
		return fmt.Sprintf("has %d items more than allowed", k.Count)
	case *kind.UniqueItems:
		return fmt.Sprintf("must have unique items; items %d and %d are equal",
			k.Duplicates[0], k.Duplicates[1])
	case *kind.Contains:
		return "must contain a matching item"
	case *kind.MinContains:
		return fmt.Sprintf("must contain at least %d matching items", k.Want)
	case *kind.MaxContains:
		return fmt.Sprintf("must contain at most %d matching items", k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties", k.Want)
	case *kind.AnyOf:
		return "must match at least one of the allowed schemas (anyOf)"
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "must match exactly one of the allowed schemas (oneOf), matched none"
		}
		return "must match exactly one of the allowed schemas (oneOf), matched several"
	case *kind.Not:
		return "must not match the schema under \"not\""
	case *kind.FalseSchema:
		return "is not allowed"
	}
	if p := k.KeywordPath(); len(p) > 0 {
		return fmt.Sprintf("fails the %q keyword", strings.Join(p, "/"))
	}
	return "does not match the schema"
}

// display renders a JSON value from a schema compactly.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
