package dispatch

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

func durationMs(ms int64) *durationpb.Duration {
	return durationpb.New(time.Duration(ms) * time.Millisecond)
}
