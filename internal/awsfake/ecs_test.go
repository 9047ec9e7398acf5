package awsfake_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/internal/awsfake"
)

type ecsBundle struct {
	srv  *awsfake.Server
	fake *awsfake.ECS
	logs *awsfake.Logs
	ecs  *ecs.Client
	cwl  *cloudwatchlogs.Client
}

func setupECS(t *testing.T) ecsBundle {
	t.Helper()
	srv := awsfake.Start(t)
	logs := awsfake.NewLogs(srv)
	cfg := srv.Config()
	fast := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = time.Millisecond })
	}
	return ecsBundle{
		srv:  srv,
		fake: awsfake.NewECS(srv, logs),
		logs: logs,
		ecs:  ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.Retryer = fast() }),
		cwl:  cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.Retryer = fast() }),
	}
}

func (b ecsBundle) register(t *testing.T) string {
	t.Helper()
	out, err := b.ecs.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("ferry-abc"),
		NetworkMode: types.NetworkModeAwsvpc,
		Cpu:         aws.String("256"), Memory: aws.String("512"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("run"), Image: aws.String("busybox"),
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/g", "awslogs-region": awsfake.Region, "awslogs-stream-prefix": "p",
			}},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func runInput(taskDef, token, by string) *ecs.RunTaskInput {
	return &ecs.RunTaskInput{
		Cluster: aws.String("c"), TaskDefinition: aws.String(taskDef), LaunchType: types.LaunchTypeFargate,
		ClientToken: aws.String(token), StartedBy: aws.String(by),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-1"},
		}},
	}
}

func TestECSRunTaskIdempotentAndListed(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	ctx := t.Context()
	td := b.register(t)
	if td != "arn:aws:ecs:us-east-1:123456789012:task-definition/ferry-abc:1" {
		t.Errorf("task definition ARN = %q", td)
	}
	first, err := b.ecs.RunTask(ctx, runInput(td, "tok-1", "ferry-a"))
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	again, err := b.ecs.RunTask(ctx, runInput(td, "tok-1", "ferry-a"))
	if err != nil {
		t.Fatalf("RunTask again: %v", err)
	}
	if a, b := aws.ToString(first.Tasks[0].TaskArn), aws.ToString(again.Tasks[0].TaskArn); a != b {
		t.Errorf("same client token gave tasks %s and %s", a, b)
	}
	for i := range 3 {
		if _, err := b.ecs.RunTask(ctx, runInput(td, fmt.Sprintf("tok-b%d", i), "ferry-b")); err != nil {
			t.Fatal(err)
		}
	}

	var listed []string
	pages := ecs.NewListTasksPaginator(b.ecs, &ecs.ListTasksInput{
		Cluster: aws.String("c"), StartedBy: aws.String("ferry-b"), MaxResults: aws.Int32(2),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		listed = append(listed, page.TaskArns...)
	}
	if len(listed) != 3 || slices.Contains(listed, aws.ToString(first.Tasks[0].TaskArn)) {
		t.Errorf("ListTasks by startedBy = %v, want the 3 tasks of ferry-b", listed)
	}
}

func TestECSRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	ctx := t.Context()
	td := b.register(t)
	noNetwork := runInput(td, "t", "ferry-a")
	noNetwork.NetworkConfiguration = nil
	badStartedBy := runInput(td, "t2", "ferry a")
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task/c/%d", i)
	}

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"awsvpc without network", func() error { _, err := b.ecs.RunTask(ctx, noNetwork); return err }, "InvalidParameterException"},
		{"startedBy characters", func() error { _, err := b.ecs.RunTask(ctx, badStartedBy); return err }, "InvalidParameterException"},
		{"describe over 100", func() error {
			_, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: tooMany})
			return err
		}, "InvalidParameterException"},
		{"fargate cpu", func() error {
			_, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
				Family: aws.String("x"), NetworkMode: types.NetworkModeAwsvpc, Cpu: aws.String("300"), Memory: aws.String("512"),
				RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
				ContainerDefinitions:    []types.ContainerDefinition{{Name: aws.String("run"), Image: aws.String("busybox")}},
			})
			return err
		}, "ClientException"},
		{"unknown task definition", func() error {
			_, err := b.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope")})
			return err
		}, "ClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apiCode(t, tt.call()); got != tt.code {
				t.Errorf("error code = %s, want %s", got, tt.code)
			}
		})
	}
}

func TestECSStopsAndLogs(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	ctx := t.Context()
	td := b.register(t)
	run, err := b.ecs.RunTask(ctx, runInput(td, "tok", "ferry-a"))
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	task := b.fake.Tasks()[0]
	if task.LogStream == "" {
		t.Fatal("no log stream for an awslogs task")
	}
	var msgs []string
	for i := range 120 {
		msgs = append(msgs, fmt.Sprintf("line %d", i))
	}
	b.logs.Append(task.LogGroup, task.LogStream, msgs...)

	var got []string
	var token *string
	for {
		out, err := b.cwl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(task.LogGroup), LogStreamName: aws.String(task.LogStream),
			StartFromHead: aws.Bool(true), NextToken: token,
		})
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, ev := range out.Events {
			got = append(got, aws.ToString(ev.Message))
		}
		if aws.ToString(out.NextForwardToken) == aws.ToString(token) {
			break
		}
		token = out.NextForwardToken
	}
	if !slices.Equal(got, msgs) {
		t.Errorf("read %d events, want the %d written in order", len(got), len(msgs))
	}

	if err := b.fake.OOM(arn); err != nil {
		t.Fatal(err)
	}
	desc, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: []string{arn, arn + "x"}})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	c := desc.Tasks[0].Containers[0]
	if aws.ToString(desc.Tasks[0].LastStatus) != "STOPPED" || aws.ToInt32(c.ExitCode) != 137 ||
		aws.ToString(c.Reason) != awsfake.OOMReason {
		t.Errorf("stopped task = %+v", desc.Tasks[0])
	}
	if len(desc.Failures) != 1 || aws.ToString(desc.Failures[0].Reason) != "MISSING" {
		t.Errorf("failures = %+v, want one MISSING", desc.Failures)
	}
}
