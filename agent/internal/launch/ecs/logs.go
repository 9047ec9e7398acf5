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
// the first h.skip. Once finished is closed it reads to the end and returns.
func (h *handle) followLogs(finished <-chan struct{}) {
	w := launch.NewLineWriter(launch.StreamStdout, h.sink, h.l.cfg.MaxLineBytes, nil)
	defer w.Close()
	f := &logFollower{h: h, w: w, group: h.task.LogGroup, stream: h.logStream()}
	ctx := context.Background()
	for {
		f.read(ctx, 1)
		t := time.NewTimer(h.l.cfg.LogInterval)
		select {
		case <-finished:
			t.Stop()
			f.read(ctx, drainReads)
			return
		case <-t.C:
		}
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

// read reads pages of new events until one comes back empty or pages reads
// have been made.
func (f *logFollower) read(ctx context.Context, pages int) {
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
			return
		}
		if err != nil {
			if !f.warned {
				f.warned = true
				f.h.system("reading the log stream %s failed: %s", f.stream, logsError(err))
			}
			f.h.l.logger.WarnContext(ctx, "ecs: log read failed", append(f.h.logAttrs(), slog.String("error", logsError(err)))...)
			return
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
			return
		}
	}
}

func logsError(err error) string {
	if code := apiCode(err); code != "" {
		return fmt.Sprintf("CloudWatch Logs GetLogEvents: %s", code)
	}
	return fmt.Sprintf("CloudWatch Logs GetLogEvents: %v", err)
}
