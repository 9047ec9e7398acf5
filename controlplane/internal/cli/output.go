package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// formatter renders times and durations for people. Times are shown in the
// zone named by the TZ variable of the command's [Env], else in the local
// zone.
type formatter struct {
	loc *time.Location
	now func() time.Time
}

func newFormatter(env Env) formatter {
	loc := time.Local
	if tz := env.Getenv("TZ"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	return formatter{loc: loc, now: time.Now}
}

// timestamp renders ts as "2006-01-02 15:04:05", or "-" when unset.
func (f formatter) timestamp(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(f.loc).Format(time.DateTime)
}

// preciseTimestamp renders ts with milliseconds, or "-" when unset.
func (f formatter) preciseTimestamp(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(f.loc).Format("2006-01-02 15:04:05.000")
}

// clock renders ts as "15:04:05.000", as log lines show it.
func (f formatter) clock(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "--:--:--.---"
	}
	return ts.AsTime().In(f.loc).Format("15:04:05.000")
}

// runDuration is how long a run ran: from start to end, or to now while it
// runs. It is "-" for a run that never started.
func (f formatter) runDuration(r *ferryv1.Run) string {
	if r.GetStartTime() == nil {
		return "-"
	}
	end := f.now()
	if r.GetEndTime() != nil {
		end = r.GetEndTime().AsTime()
	}
	return humanDuration(end.Sub(r.GetStartTime().AsTime()))
}

// humanDuration rounds d to milliseconds under a minute and to seconds
// above.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// protoDuration renders a duration field, or "-" when unset.
func protoDuration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return d.AsDuration().String()
}

// stateLabel is the short name of a run state: "RUNNING".
func stateLabel(s ferryv1.RunState) string {
	return strings.TrimPrefix(s.String(), "RUN_STATE_")
}

// stateWithName is the state with its refinement when the refinement says
// more than the state: "SCHEDULED (Late)", but "RUNNING" for "Running".
func stateWithName(r *ferryv1.Run) string {
	label := stateLabel(r.GetState())
	if name := r.GetStateName(); name != "" && !strings.EqualFold(name, label) {
		return label + " (" + clean(name) + ")"
	}
	return label
}

// clean makes server-supplied text safe for one table cell or line: control
// characters, which could move the cursor or recolour a terminal, become
// spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return clean(s)
}

// writeTable prints rows under a header, columns aligned with spaces.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = strings.ReplaceAll(c, "\t", " ")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// field is one line of a key-value listing.
type field struct{ name, value string }

// writeFields prints a key-value listing, values aligned.
func writeFields(w io.Writer, fields []field) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, f.value)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write fields: %w", err)
	}
	return nil
}

// writeJSON prints each message as protojson on its own line.
func writeJSON[M proto.Message](w io.Writer, msgs ...M) error {
	for _, m := range msgs {
		b, err := protojson.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
	}
	return nil
}

// syncWriter serialises writes from the goroutines of a watch, so lines
// never interleave mid-line.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
