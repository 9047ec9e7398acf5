package awsfake_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/internal/awsfake"
)

// waitTask polls the fake until cond holds for the task arn.
func waitTask(t *testing.T, f *awsfake.ECS, arn string, cond func(awsfake.ECSTask) bool) awsfake.ECSTask {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, task := range f.Tasks() {
			if task.ARN == arn && cond(task) {
				return task
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: condition not met in time; tasks: %+v", arn, f.Tasks())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestECSScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script awsfake.TaskScript
		// stop calls StopTask once the first line is written; the lines
		// written by then must be all there are.
		stop       bool
		wantLines  []string
		wantCode   string
		wantExit   *int32
		wantReason string
	}{
		{
			name:      "lines then exit",
			script:    awsfake.TaskScript{Lines: []string{"a", "b", "c"}, Interval: time.Millisecond, End: awsfake.EndExit, ExitCode: 3},
			wantLines: []string{"a", "b", "c"},
			wantCode:  "EssentialContainerExited",
			wantExit:  aws.Int32(3),
		},
		{
			name:       "out of memory",
			script:     awsfake.TaskScript{End: awsfake.EndOOM},
			wantCode:   "EssentialContainerExited",
			wantExit:   aws.Int32(137),
			wantReason: awsfake.OOMReason,
		},
		{
			name:     "no capacity",
			script:   awsfake.TaskScript{End: awsfake.EndCapacity},
			wantCode: "TaskFailedToStart",
		},
		{
			name:     "interrupted",
			script:   awsfake.TaskScript{Hold: time.Millisecond, End: awsfake.EndInterrupt},
			wantCode: "SpotInterruption",
		},
		{
			name:     "stopped while writing",
			script:   awsfake.TaskScript{Lines: []string{"a", "b", "c"}, Interval: 50 * time.Millisecond, End: awsfake.EndExit},
			stop:     true,
			wantCode: "UserInitiated",
			wantExit: aws.Int32(143),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupECS(t)
			ctx := t.Context()
			td := b.register(t)
			var seen atomic.Int32
			b.fake.Script(func(task awsfake.ECSTask) awsfake.TaskScript {
				if task.StartedBy == "ferry-a" {
					seen.Add(1)
				}
				return tt.script
			})
			out, err := b.ecs.RunTask(ctx, runInput(td, "tok", "ferry-a"))
			if err != nil {
				t.Fatalf("RunTask: %v", err)
			}
			arn := aws.ToString(out.Tasks[0].TaskArn)
			task := b.fake.Tasks()[0]
			if tt.stop {
				waitLines(t, b, task, 1)
				if _, err := b.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("c"), Task: aws.String(arn)}); err != nil {
					t.Fatalf("StopTask: %v", err)
				}
				tt.wantLines = readAll(t, b, task)
				if len(tt.wantLines) == len(tt.script.Lines) {
					t.Fatalf("every line was written before StopTask: %q", tt.wantLines)
				}
			}
			waitTask(t, b.fake, arn, func(task awsfake.ECSTask) bool { return task.LastStatus == "STOPPED" })
			if tt.stop {
				// Give the script the time it would need to write another line.
				time.Sleep(3 * tt.script.Interval)
			}

			desc, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: []string{arn}})
			if err != nil {
				t.Fatalf("DescribeTasks: %v", err)
			}
			got := desc.Tasks[0]
			c := got.Containers[0]
			exitDiffers := (c.ExitCode == nil) != (tt.wantExit == nil) || aws.ToInt32(c.ExitCode) != aws.ToInt32(tt.wantExit)
			if string(got.StopCode) != tt.wantCode || exitDiffers || aws.ToString(c.Reason) != tt.wantReason {
				t.Errorf("task stopped with code %s, exit %v, reason %q; want %s, %v, %q",
					got.StopCode, aws.ToInt32(c.ExitCode), aws.ToString(c.Reason),
					tt.wantCode, aws.ToInt32(tt.wantExit), tt.wantReason)
			}
			if lines := readAll(t, b, task); !slices.Equal(lines, tt.wantLines) {
				t.Errorf("log stream = %q, want %q", lines, tt.wantLines)
			}
			// A repeated RunTask with the same token returns the task and
			// plays nothing again.
			if _, err := b.ecs.RunTask(ctx, runInput(td, "tok", "ferry-a")); err != nil {
				t.Fatalf("RunTask again: %v", err)
			}
			if n := seen.Load(); n != 1 {
				t.Errorf("script called for %d tasks, want 1", n)
			}
		})
	}
}

func waitLines(t *testing.T, b ecsBundle, task awsfake.ECSTask, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(readAll(t, b, task)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d lines in %s", n, task.LogStream)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readAll(t *testing.T, b ecsBundle, task awsfake.ECSTask) []string {
	t.Helper()
	out, err := b.cwl.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(task.LogGroup), LogStreamName: aws.String(task.LogStream), StartFromHead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetLogEvents: %v", err)
	}
	var lines []string
	for _, ev := range out.Events {
		lines = append(lines, aws.ToString(ev.Message))
	}
	return lines
}

func TestECSClusterScope(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	ctx := t.Context()
	td := b.register(t)
	out, err := b.ecs.RunTask(ctx, runInput(td, "tok", "ferry-a"))
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	task := b.fake.Tasks()[0]
	if task.Cluster != "c" || task.CPU != "256" || task.Memory != "512" {
		t.Errorf("task cluster %q, cpu %q, memory %q; want c, 256, 512", task.Cluster, task.CPU, task.Memory)
	}

	for _, cluster := range []string{"c", "arn:aws:ecs:us-east-1:123456789012:cluster/c"} {
		list, err := b.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster)})
		if err != nil || !slices.Equal(list.TaskArns, []string{arn}) {
			t.Errorf("ListTasks in %s = %v, %v; want the task", cluster, list.TaskArns, err)
		}
	}
	other, err := b.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("other")})
	if err != nil || len(other.TaskArns) != 0 {
		t.Errorf("ListTasks in another cluster = %v, %v; want none", other.TaskArns, err)
	}
	desc, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("other"), Tasks: []string{arn}})
	if err != nil || len(desc.Tasks) != 0 || len(desc.Failures) != 1 {
		t.Errorf("DescribeTasks in another cluster = %d tasks, %d failures, %v; want it MISSING",
			len(desc.Tasks), len(desc.Failures), err)
	}
	_, err = b.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("other"), Task: aws.String(arn)})
	if got := apiCode(t, err); got != "InvalidParameterException" {
		t.Errorf("StopTask in another cluster: code %s, want InvalidParameterException", got)
	}
	if task := b.fake.Tasks()[0]; task.LastStatus != "RUNNING" {
		t.Errorf("task is %s after a stop in another cluster, want RUNNING", task.LastStatus)
	}
	if inv := b.srv.InvalidRequests(); len(inv) != 0 {
		t.Errorf("requests refused as invalid: %+v, want none (state errors are not invalid)", inv)
	}
}

func TestInvalidRequestsRecorded(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	ctx := t.Context()
	td := b.register(t)
	badOverride := runInput(td, "t1", "ferry-a")
	badOverride.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("other")}}}
	bigOverride := runInput(td, "t2", "ferry-a")
	bigOverride.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
		Name: aws.String("run"), Command: []string{strings.Repeat("x", 9000)},
	}}}

	tests := []struct {
		name   string
		call   func() error
		target string
		want   string
	}{
		{"override of an unknown container", func() error { _, err := b.ecs.RunTask(ctx, badOverride); return err },
			awsfake.TargetRunTask, "is not a container in the TaskDefinition"},
		{"overrides too long", func() error { _, err := b.ecs.RunTask(ctx, bigOverride); return err },
			awsfake.TargetRunTask, "Container Overrides length"},
		{"stop reason too long", func() error {
			_, err := b.ecs.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("x"), Reason: aws.String(strings.Repeat("r", 256))})
			return err
		}, awsfake.TargetStopTask, "reason can be at most 255"},
		{"log events without group", func() error {
			_, err := b.cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogStreamName: aws.String("s")})
			return err
		}, awsfake.TargetGetLogEvents, "logGroupName"},
	}
	for i, tt := range tests {
		if err := tt.call(); err == nil {
			t.Errorf("%s: call succeeded, want it refused", tt.name)
			continue
		}
		inv := b.srv.InvalidRequests()
		if len(inv) != i+1 {
			t.Fatalf("%s: %d invalid requests recorded, want %d: %+v", tt.name, len(inv), i+1, inv)
		}
		if got := inv[i]; got.Target != tt.target || !strings.Contains(got.Error, tt.want) || len(got.Body) == 0 {
			t.Errorf("%s: recorded %+v, want target %s and an error containing %q", tt.name, got, tt.target, tt.want)
		}
	}

	// Refusals that depend on state are not invalid requests.
	before := len(b.srv.InvalidRequests())
	if _, err := b.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope")}); err == nil {
		t.Error("DescribeTaskDefinition of an unknown family succeeded")
	}
	if _, err := b.cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String("g"), LogStreamName: aws.String("nope"),
	}); err == nil {
		t.Error("GetLogEvents of an unknown stream succeeded")
	}
	if after := len(b.srv.InvalidRequests()); after != before {
		t.Errorf("state refusals recorded as invalid requests: %+v", b.srv.InvalidRequests()[before:])
	}
}
