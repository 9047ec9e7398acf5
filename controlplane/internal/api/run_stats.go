package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// Limits and defaults of GetRunStats. The window is bounded so that the
// call reads at most a week of runs, whatever the size of the table.
const (
	defaultStatsWindow = 24 * time.Hour
	defaultStatsBucket = time.Hour
	maxStatsWindow     = 7 * 24 * time.Hour
	minStatsBucket     = time.Minute
	maxStatsBuckets    = 1000
	// failureLookback is the "last day" of failed_last_day.
	failureLookback = 24 * time.Hour
)

// statsWindow is a validated GetRunStats window.
type statsWindow struct {
	start, end time.Time
	bucket     time.Duration
	buckets    int
}

// statsWindowOf validates the window and bucket of m and places the window.
func statsWindowOf(m *ferryv1.GetRunStatsRequest, now time.Time) (statsWindow, error) {
	var w statsWindow
	window, bucket := defaultStatsWindow, defaultStatsBucket
	if d := m.GetWindow(); d != nil {
		if err := d.CheckValid(); err != nil {
			return w, errInvalid("window", "%v", err)
		}
		window = d.AsDuration()
		if window <= 0 || window > maxStatsWindow {
			return w, errInvalid("window", "must be more than 0 and at most %s", maxStatsWindow)
		}
	}
	if d := m.GetBucket(); d != nil {
		if err := d.CheckValid(); err != nil {
			return w, errInvalid("bucket", "%v", err)
		}
		bucket = d.AsDuration()
		if bucket < minStatsBucket || bucket%time.Second != 0 {
			return w, errInvalid("bucket", "must be a whole number of seconds, at least %s", minStatsBucket)
		}
	}
	if window%bucket != 0 {
		return w, errInvalid("window", "must be a whole number of buckets of %s", bucket)
	}
	w.bucket, w.buckets = bucket, int(window/bucket)
	if w.buckets > maxStatsBuckets {
		return w, errInvalid("bucket", "gives %d buckets over the window; at most %d", w.buckets, maxStatsBuckets)
	}
	if t := m.GetEndTime(); t != nil {
		end, err := timeArg("end_time", t, earliestTime, now.Add(statsHorizon))
		if err != nil {
			return w, err
		}
		if end.Add(-window).Before(earliestTime) {
			return w, errInvalid("end_time", "with a window of %s, the window would start before %s",
				window, earliestTime.Format(time.RFC3339))
		}
		w.end = end
	} else {
		// The end of the bucket holding now, buckets counted from the Unix
		// epoch, so that bars keep their edges from one call to the next.
		b := int64(bucket / time.Second)
		sec := now.Unix()
		w.end = time.Unix((sec/b+1)*b, 0).UTC()
	}
	w.start = w.end.Add(-window)
	return w, nil
}

// GetRunStats returns the dashboard's figures. It reads the window's runs
// through runs_state_list_idx, the Late runs through runs_late_idx and the
// recent failures through runs_failed_end_idx, in one snapshot.
func (s *RunServer) GetRunStats(ctx context.Context, req *connect.Request[ferryv1.GetRunStatsRequest]) (*connect.Response[ferryv1.GetRunStatsResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	w, err := statsWindowOf(req.Msg, now)
	if err != nil {
		return nil, err
	}

	var counts []db.RunCountByBucketRow
	var late, failed int64
	err = s.Store.ReadPlanned(ctx, func(q db.Querier) error {
		var err error
		counts, err = q.RunCountByBucket(ctx, db.RunCountByBucketParams{
			WorkspaceID: p.WorkspaceID, StartTime: w.start, EndTime: w.end,
			BucketSeconds: int64(w.bucket / time.Second),
		})
		if err != nil {
			return fmt.Errorf("count runs by bucket: %w", err)
		}
		late, err = q.RunCountLate(ctx, db.RunCountLateParams{
			WorkspaceID: p.WorkspaceID, LateBefore: now.Add(-s.lateAfter()),
		})
		if err != nil {
			return fmt.Errorf("count late runs: %w", err)
		}
		failed, err = q.RunCountFailedBetween(ctx, db.RunCountFailedBetweenParams{
			WorkspaceID: p.WorkspaceID, Since: now.Add(-failureLookback), Until: now,
		})
		if err != nil {
			return fmt.Errorf("count failed runs: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "get run stats", err)
	}

	resp := &ferryv1.GetRunStatsResponse{
		StartTime:     timestamppb.New(w.start),
		EndTime:       timestamppb.New(w.end),
		Buckets:       make([]*ferryv1.RunStatsBucket, w.buckets),
		LateRuns:      late,
		FailedLastDay: failed,
	}
	for i := range resp.Buckets {
		resp.Buckets[i] = &ferryv1.RunStatsBucket{StartTime: timestamppb.New(w.start.Add(time.Duration(i) * w.bucket))}
	}
	for _, c := range counts {
		i := int(c.BucketStart.Sub(w.start) / w.bucket)
		if i < 0 || i >= len(resp.Buckets) {
			return nil, errInternal(ctx, s.Log, "get run stats",
				fmt.Errorf("bucket %s lies outside the window [%s, %s)", c.BucketStart, w.start, w.end))
		}
		b := resp.Buckets[i]
		b.Counts = append(b.Counts, &ferryv1.RunStateCount{State: stateToProto(c.State), Count: c.Runs})
		b.Total += c.Runs
	}
	for _, b := range resp.Buckets {
		slices.SortFunc(b.Counts, func(x, y *ferryv1.RunStateCount) int { return int(x.GetState() - y.GetState()) })
	}
	return connect.NewResponse(resp), nil
}
