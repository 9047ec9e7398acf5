package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/controlplane/internal/schedule/spec"
)

// compile parses a definition into its fire times. Errors are
// [*FieldError] values naming the field of the API at fault.
func compile(d Definition) (spec.Schedule, error) {
	sc, err := spec.Parse(spec.Spec{
		Kind:   spec.Kind(d.Kind),
		Expr:   d.Expression,
		Zone:   d.Zone,
		Every:  d.Interval,
		Anchor: d.Anchor,
	})
	if err != nil {
		return spec.Schedule{}, apiFieldError(err)
	}
	return sc, nil
}

// checkMinInterval refuses a schedule whose fire times come closer
// together than min in the year after now.
func checkMinInterval(sc spec.Schedule, d Definition, now time.Time, min time.Duration) error {
	if d.Kind == KindInterval {
		if d.Interval < min {
			return &FieldError{Field: "spec.interval", Reason: fmt.Sprintf(
				"%v is shorter than the minimum interval between fire times, %v", d.Interval, min)}
		}
		return nil
	}
	if err := spec.CheckMinInterval(sc, now, min); err != nil {
		return apiFieldError(err)
	}
	return nil
}

// apiFieldError names the request field behind an error of package spec.
func apiFieldError(err error) error {
	var fe *spec.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("parse schedule: %w", err)
	}
	// Cron fields, RRULE parts and the minimum interval are all about the
	// expression.
	field := "spec.expression"
	switch {
	case fe.Field == "zone":
		field = "spec.zone"
	case fe.Field == "interval":
		field = "spec.interval"
	case fe.Field == "anchor", fe.Field == "dtstart":
		field = "spec.anchor_time"
	case fe.Field == "kind":
		field = "spec.kind"
	}
	return &FieldError{Field: field, Reason: fe.Error()}
}
