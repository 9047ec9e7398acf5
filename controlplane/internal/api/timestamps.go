package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Bounds of the request times the server computes from: fire times,
// windows and run start times. Times outside them are refused, because
// what the server derives from them (a window's start, the next fire time)
// could leave the range a Timestamp can carry back to the caller.
var earliestTime = time.Unix(0, 0).UTC()

const (
	// statsHorizon is how far past now a GetRunStats window may end.
	statsHorizon = 366 * 24 * time.Hour
	// scheduleHorizon is how far past now a schedule's anchor, a preview's
	// start or a run's expected start may lie.
	scheduleHorizon = 100 * 366 * 24 * time.Hour
)

// timeArg returns the time of a request field, refusing a malformed
// Timestamp (seconds or nanos out of range) and one outside [lo, hi].
func timeArg(field string, t *timestamppb.Timestamp, lo, hi time.Time) (time.Time, error) {
	if err := t.CheckValid(); err != nil {
		return time.Time{}, errInvalid(field, "%v", err)
	}
	v := t.AsTime()
	if v.Before(lo) || v.After(hi) {
		return time.Time{}, errInvalid(field, "%s is outside %s to %s", v.Format(time.RFC3339Nano),
			lo.UTC().Format(time.RFC3339), hi.UTC().Format(time.RFC3339))
	}
	return v, nil
}

// filterTimeArg returns the time of a filter field, which only bounds a
// query and may be anything a Timestamp can hold.
func filterTimeArg(field string, t *timestamppb.Timestamp) (time.Time, error) {
	if err := t.CheckValid(); err != nil {
		return time.Time{}, errInvalid(field, "%v", err)
	}
	return t.AsTime(), nil
}
