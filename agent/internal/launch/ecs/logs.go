package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// drainReads bounds the reads of a log stream after the task has stopped:
// the final read goes on while pages come back full.
const drainReads = 1000

// logStream returns the awslogs stream of the task: prefix/container/task-id.
func (h *handle) logStream() string {
	id := h.arn[strings.LastIndexByte(h.arn, '/')+1:]
	return h.task.EffectiveStreamPrefix() + "/" + h.task.EffectiveContainerName() + "/" + id
}

// followLogs reads the task's log stream from its start every log interval,
// with continuation tokens, and delivers each event as an output line after
// the first h.skip. Once finished is closed it reads to the end and returns;
// see [handle.drain].
func (h *handle) followLogs(finished <-chan struct{}) {
	w := launch.NewLineWriter(launch.StreamStdout, h.sink, h.l.cfg.MaxLineBytes, nil)
	defer w.Close()
	f := &logFollower{h: h, w: w, group: h.task.LogGroup, stream: h.logStream()}
	ctx := context.Background()
	for {
		if err := f.read(ctx, 1); err != nil {
			f.warn(ctx, err)
		}
		t := time.NewTimer(h.l.cfg.LogInterval)
		select {
		case <-finished:
			t.Stop()
			f.drain(ctx)
			return
		case <-t.C:
		}
	}
}

// drain reads the rest of a stopped task's log. A read that fails after the
// SDK's retries is tried again, backing off from the log interval up to the
// SDK's maximum backoff, until [Config.DrainTimeout] has passed; the lines
// read meanwhile are kept, since the continuation token only advances on
// success. If the rest still cannot be read, a system line says so, naming
// the log group and stream, before the outcome is reported.
func (f *logFollower) drain(ctx context.Context) {
	cfg := f.h.l.cfg
	deadline := time.Now().Add(cfg.DrainTimeout)
	delay := cfg.LogInterval
	for {
		err := f.read(ctx, drainReads)
		if err == nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.h.system("the rest of the output could not be read from CloudWatch Logs (log group %s, stream %s) "+
				"within %s after the task stopped: %s", f.group, f.stream, cfg.DrainTimeout, logsError(err))
			f.h.l.logger.WarnContext(ctx, "ecs: final log read failed; output lost",
				append(f.h.logAttrs(), slog.String("log_group", f.group), slog.String("log_stream", f.stream),
					slog.String("error", logsError(err)))...)
			return
		}
		f.h.l.logger.WarnContext(ctx, "ecs: final log read failed; trying again",
			append(f.h.logAttrs(), slog.Duration("delay", delay), slog.String("error", logsError(err)))...)
		t := time.NewTimer(min(delay, left))
		<-t.C
		delay = min(delay*2, max(cfg.MaxBackoff, cfg.LogInterval))
	}
}

type logFollower struct {
	h      *handle
	w      *launch.LineWriter
	group  string
	stream string
	token  *string
	seen   int64
	warned bool
}

// warn reports a failed read while the task runs: once in the run's log,
// each time in the agent's.
func (f *logFollower) warn(ctx context.Context, err error) {
	if !f.warned {
		f.warned = true
		f.h.system("reading the log stream %s failed: %s", f.stream, logsError(err))
	}
	f.h.l.logger.WarnContext(ctx, "ecs: log read failed", append(f.h.logAttrs(), slog.String("error", logsError(err)))...)
}

// read reads pages of new events until one comes back empty or pages reads
// have been made. It returns the error of a read that failed after the
// SDK's retries; a stream that does not exist yet is not an error.
func (f *logFollower) read(ctx context.Context, pages int) error {
	for range max(pages, 1) {
		callCtx, cancel := context.WithTimeout(ctx, f.h.l.cfg.CallTimeout)
		out, err := f.h.l.cwl.GetLogEvents(callCtx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName:  aws.String(f.group),
			LogStreamName: aws.String(f.stream),
			StartFromHead: aws.Bool(true),
			NextToken:     f.token,
		})
		cancel()
		var notFound *cwltypes.ResourceNotFoundException
		if errors.As(err, &notFound) {
			// The stream is created when the container starts.
			return nil
		}
		if err != nil {
			return err
		}
		for _, ev := range out.Events {
			f.seen++
			if f.seen <= f.h.skip {
				continue
			}
			_, _ = f.w.Write([]byte(aws.ToString(ev.Message) + "\n"))
		}
		same := aws.ToString(out.NextForwardToken) == aws.ToString(f.token)
		f.token = out.NextForwardToken
		if len(out.Events) == 0 || same {
			return nil
		}
	}
	return nil
}

func logsError(err error) string {
	if code := apiCode(err); code != "" {
		return fmt.Sprintf("CloudWatch Logs GetLogEvents: %s", code)
	}
	return fmt.Sprintf("CloudWatch Logs GetLogEvents: %v", err)
}
