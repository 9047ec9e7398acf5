package ecs

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// missingLimit is how many polls in a row may report a task MISSING before
// it is given up as lost. ECS is eventually consistent: a task just started
// may be missing from one answer.
const missingLimit = 3

// maxPollBackoff bounds how far failed polls stretch the poll interval, as a
// multiple of it.
const maxPollBackoff = 8

// watch adds h to the tasks whose status is polled, starting the poller if
// it is not running. The poller stops when no task is left.
func (l *Launcher) watch(h *handle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watched[h.arn] = h
	if !l.polling {
		l.polling = true
		go l.poll()
	}
}

func (l *Launcher) unwatch(arn string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.watched, arn)
}

// poll reads the status of every watched task with DescribeTasks, in
// batches, and hands stopped or lost tasks to their handles. Failures back
// off.
func (l *Launcher) poll() {
	ctx := context.Background()
	delay := l.cfg.PollInterval
	for {
		t := time.NewTimer(delay)
		<-t.C

		l.mu.Lock()
		if len(l.watched) == 0 {
			l.polling = false
			l.mu.Unlock()
			return
		}
		// Job variables may place runs in other clusters than the agent's.
		byCluster := map[string][]string{}
		for arn, h := range l.watched {
			byCluster[h.task.Cluster] = append(byCluster[h.task.Cluster], arn)
		}
		l.mu.Unlock()

		failed := false
		for _, cluster := range slices.Sorted(maps.Keys(byCluster)) {
			arns := byCluster[cluster]
			slices.Sort(arns)
			callCtx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
			tasks, missing, err := l.describeIn(callCtx, cluster, arns, false)
			cancel()
			if err != nil {
				failed = true
				l.logger.WarnContext(ctx, "ecs: task status poll failed", slog.String("error", err.Error()),
					slog.String("cluster", cluster), slog.Int("tasks", len(arns)))
				continue
			}
			l.deliver(tasks, missing)
		}
		if failed {
			delay = min(delay*2, l.cfg.PollInterval*maxPollBackoff)
			continue
		}
		delay = l.cfg.PollInterval
	}
}

func (l *Launcher) deliver(tasks []types.Task, missing []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range tasks {
		h, ok := l.watched[aws.ToString(t.TaskArn)]
		if !ok {
			continue
		}
		h.missing = 0
		if aws.ToString(t.LastStatus) == "STOPPED" {
			delete(l.watched, h.arn)
			h.ended <- taskEnd{task: t}
		}
	}
	for _, arn := range missing {
		h, ok := l.watched[arn]
		if !ok {
			continue
		}
		h.missing++
		if h.missing >= missingLimit {
			delete(l.watched, arn)
			h.ended <- taskEnd{lost: true}
		}
	}
}
