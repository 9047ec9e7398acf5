package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// logDrainTimeout bounds the wait for the last log lines once a watched run
// is final; the server ends the log stream by itself when all were sent.
const logDrainTimeout = 10 * time.Second

// watchRun follows the state and the logs of run id until the run is
// final, then prints a summary. Lines of attempts before minAttempt are not
// shown. The result is nil for a COMPLETED run and an [ExitError] with code
// 1 for any other final state. When ctx is cancelled it stops watching,
// leaves the run alone and says how to cancel it.
//
// Known limitation: a watch or log follow whose connection breaks (server
// restart, a proxy closing a long stream) ends with an error instead of
// resuming; `ferry run logs -f ID` or `ferry run get ID` picks up again.
func watchRun(ctx context.Context, env Env, c *client, id string, minAttempt int32) error {
	out := &syncWriter{w: env.Stdout}
	fm := newFormatter(env)

	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	logsDone := make(chan error, 1)
	go func() {
		lp := &logPrinter{w: out, fm: fm, minAttempt: minAttempt}
		logsDone <- followLogs(logCtx, c, id, 0, lp)
	}()
	stopAndWait := func() {
		stopLogs()
		<-logsDone
	}

	final, err := watchStates(ctx, c, id, out)
	if ctx.Err() != nil {
		stopAndWait()
		return interrupted(env, id)
	}
	if err != nil {
		stopAndWait()
		return err
	}
	select {
	case err := <-logsDone:
		if err != nil {
			fmt.Fprintf(env.Stderr, "ferry: the logs may be incomplete: %v\n", err)
		}
	case <-time.After(logDrainTimeout):
		stopAndWait()
		fmt.Fprintf(env.Stderr, "ferry: stopped waiting for the last log lines after %s\n", logDrainTimeout)
	case <-ctx.Done():
		stopAndWait()
		return interrupted(env, id)
	}

	fmt.Fprintf(out, "==> run %s finished\n", id)
	if err := writeFields(out, []field{
		{"State", stateWithName(final)},
		{"Attempts", attempts(final)},
		{"Duration", fm.runDuration(final)},
		{"Message", orDash(final.GetStateMessage())},
	}); err != nil {
		return err
	}
	if final.GetState() == ferryv1.RunState_RUN_STATE_COMPLETED {
		return nil
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("run %s ended %s", id, stateLabel(final.GetState()))}
}

// interrupted explains that watching stopped but the run goes on.
func interrupted(env Env, id string) error {
	fmt.Fprintf(env.Stderr, "\nstopped watching; run %s goes on. To cancel it: ferry run cancel %s\n", id, id)
	return &ExitError{Code: exitInterrupted}
}

// watchStates prints "==> STATE (Name)" for each change of the run's state
// until the server ends the watch, and returns the last run it saw.
func watchStates(ctx context.Context, c *client, id string, w io.Writer) (*ferryv1.Run, error) {
	stream, err := c.runs.WatchRun(ctx, connect.NewRequest(&ferryv1.WatchRunRequest{Id: id}))
	if err != nil {
		return nil, c.explain("watch run", err)
	}
	defer stream.Close()
	var last *ferryv1.Run
	for stream.Receive() {
		r := stream.Msg().GetRun()
		if r == nil {
			continue
		}
		if last == nil || r.GetState() != last.GetState() || r.GetStateName() != last.GetStateName() ||
			r.GetAttempt() != last.GetAttempt() {
			line := "==> " + stateLabel(r.GetState())
			if name := r.GetStateName(); name != "" {
				line += " (" + clean(name) + ")"
			}
			fmt.Fprintln(w, line)
		}
		last = r
	}
	if err := stream.Err(); err != nil {
		return last, c.explain("watch run", err)
	}
	if last == nil || !isFinal(last.GetState()) {
		return last, fmt.Errorf("watch run: the server ended the watch before run %s finished; see 'ferry run get %s'", id, id)
	}
	return last, nil
}

// isFinal reports whether a run in state s can change no more (short of a
// retry).
func isFinal(s ferryv1.RunState) bool {
	switch s {
	case ferryv1.RunState_RUN_STATE_COMPLETED, ferryv1.RunState_RUN_STATE_FAILED,
		ferryv1.RunState_RUN_STATE_CRASHED, ferryv1.RunState_RUN_STATE_CANCELLED:
		return true
	}
	return false
}

// followLogs prints the run's log lines as they arrive until the server
// ends the stream (the run is final and every line was sent). With tail
// above 0 it starts with the last tail lines stored instead of the first.
func followLogs(ctx context.Context, c *client, id string, tail int32, lp *logPrinter) error {
	stream, err := c.runs.FollowRunLogs(ctx, connect.NewRequest(&ferryv1.FollowRunLogsRequest{Id: id, TailLines: tail}))
	if err != nil {
		return c.explain("follow logs", err)
	}
	defer stream.Close()
	for stream.Receive() {
		if err := lp.print(stream.Msg().GetLines()); err != nil {
			return err
		}
	}
	if err := stream.Err(); err != nil {
		return c.explain("follow logs", err)
	}
	return nil
}

// logPrinter prints log lines as "15:04:05.000 [stdout] text", or as
// protojson objects, one per line, in JSON mode. In text mode a line
// "--- attempt N ---" marks where a later attempt begins.
type logPrinter struct {
	w    io.Writer
	fm   formatter
	json bool
	// minAttempt hides lines of earlier attempts; onlyAttempt, when not
	// zero, hides every other attempt.
	minAttempt  int32
	onlyAttempt int32
	lastAttempt int32
}

func (lp *logPrinter) print(lines []*ferryv1.LogLine) error {
	for _, l := range lines {
		if l.GetAttempt() < lp.minAttempt || lp.onlyAttempt != 0 && l.GetAttempt() != lp.onlyAttempt {
			continue
		}
		if lp.json {
			if err := writeJSON(lp.w, l); err != nil {
				return err
			}
			continue
		}
		var b strings.Builder
		if lp.lastAttempt != 0 && l.GetAttempt() != lp.lastAttempt {
			fmt.Fprintf(&b, "--- attempt %d ---\n", l.GetAttempt())
		}
		lp.lastAttempt = l.GetAttempt()
		stream := strings.ToLower(strings.TrimPrefix(l.GetStream().String(), "LOG_STREAM_"))
		fmt.Fprintf(&b, "%s [%s] %s", lp.fm.clock(l.GetTime()), stream, strings.TrimRight(l.GetText(), "\r\n"))
		if l.GetTruncated() {
			b.WriteString(" [line truncated]")
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(lp.w, b.String()); err != nil {
			return fmt.Errorf("write logs: %w", err)
		}
	}
	return nil
}

// maxTailLines is the most lines `run logs --tail` prints: the server's
// limit on FollowRunLogsRequest.tail_lines and ListRunLogsRequest.page_size.
const maxTailLines = 10000

func runLogs(ctx context.Context, env Env, args []string) error {
	f := newFlags("run logs", "ID",
		"Print a run's log lines, every page of them, or the last N with --tail N. With -f,\n"+
			"keep printing new lines until the run ends.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	follow := f.Bool("f", false, "follow: print new lines as they arrive until the run ends")
	attempt := f.Int("attempt", 0, "only the lines of attempt `N` (default: every attempt)")
	tail := f.Int("tail", 0, fmt.Sprintf("only the last `N` lines, at most %d; with -f, then the new ones", maxTailLines))
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *attempt < 0 {
		return f.usageErr("--attempt must be positive")
	}
	if *tail < 0 || *tail > maxTailLines {
		return f.usageErr("--tail must be between 0 and %d", maxTailLines)
	}
	// The follow's tail counts the lines of every attempt, so with
	// --attempt it could print fewer lines than asked, or none.
	if *tail > 0 && *follow && *attempt != 0 {
		return f.usageErr("--tail with -f cannot be combined with --attempt")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	lp := &logPrinter{w: env.Stdout, fm: newFormatter(env), json: *output == outputJSON, onlyAttempt: int32(*attempt)}

	if *follow {
		err := followLogs(ctx, c, pos[0], int32(*tail), lp)
		if ctx.Err() != nil {
			return &ExitError{Code: exitInterrupted}
		}
		return err
	}
	if *tail > 0 {
		resp, err := unary(ctx, c, "list logs", c.runs.ListRunLogs, &ferryv1.ListRunLogsRequest{
			Id: pos[0], Attempt: int32(*attempt), PageSize: int32(*tail), Backward: true,
		})
		if err != nil {
			return err
		}
		return lp.print(resp.GetLines())
	}
	req := &ferryv1.ListRunLogsRequest{Id: pos[0], Attempt: int32(*attempt)}
	seen := map[string]bool{}
	for {
		resp, err := unary(ctx, c, "list logs", c.runs.ListRunLogs, req)
		if err != nil {
			return err
		}
		if err := lp.print(resp.GetLines()); err != nil {
			return err
		}
		next := resp.GetNextPageToken()
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("list logs: the server repeated page token %q", next)
		}
		seen[next] = true
		req.PageToken = next
	}
}
