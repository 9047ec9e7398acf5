package spec

import "fmt"

// FieldError reports a schedule specification that cannot be accepted. Its text
// names the part at fault and the problem, and is safe to show to a client.
type FieldError struct {
	// Field names the part of the specification at fault, such as
	// "cron minute", "rrule BYDAY", "zone" or "interval".
	Field string
	// Value is the offending text, or empty when the part is missing.
	Value string
	// Problem says what is wrong, in a short lowercase phrase.
	Problem string
}

// Error returns "<field> <value>: <problem>".
func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Problem)
}

func fieldErr(field, value, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Value: value, Problem: fmt.Sprintf(format, args...)}
}
