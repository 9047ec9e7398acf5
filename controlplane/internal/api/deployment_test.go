package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// poolTestSpec returns a valid spec for a process pool named pool.
func poolTestSpec(pool string) *ferryv1.DeploymentSpec {
	return &ferryv1.DeploymentSpec{
		Pool:              pool,
		Command:           []string{"python", "etl.py", "--day", "{{ .day }}"},
		Env:               map[string]string{"MODE": "full", "DSN": "env://DSN"},
		ParametersSchema:  `{"type":"object","properties":{"day":{"type":"string"}},"required":["day"]}`,
		DefaultParameters: `{"day":"today"}`,
		Timeout:           durationpb.New(time.Hour),
		Retry:             &ferryv1.RetryPolicy{Retries: 2, Delay: durationpb.New(time.Minute)},
		Tags:              []string{"nightly"},
	}
}

func TestApplyDeploymentVersions(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	t0 := e.clock.Now()

	// The first apply records version 1 with the queue written out.
	spec := poolTestSpec("etl")
	first := e.applyDeployment(t, "load", spec)
	stored := proto.CloneOf(spec)
	stored.Queue = "default"
	want := &ferryv1.ApplyDeploymentResponse{
		Changed: true,
		Deployment: &ferryv1.Deployment{
			Id: first.GetDeployment().GetId(), Name: "load", Version: 1, Spec: stored,
			CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t0),
		},
	}
	if diff := cmp.Diff(want, first, protocmp.Transform()); diff != "" {
		t.Fatalf("create (-want +got):\n%s", diff)
	}

	// The same spec again, with or without the default queue named, changes
	// nothing.
	e.clock.Advance(time.Minute)
	for _, queue := range []string{"", "default"} {
		s := proto.CloneOf(spec)
		s.Queue = queue
		got := e.applyDeployment(t, "load", s)
		want.Changed = false
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Fatalf("unchanged apply with queue %q (-want +got):\n%s", queue, diff)
		}
	}

	// A change records version 2.
	e.clock.Advance(time.Minute)
	t2 := e.clock.Now()
	if _, err := e.pools.ApplyWorkQueue(ctx, connect.NewRequest(&ferryv1.ApplyWorkQueueRequest{Pool: "etl", Name: "urgent"})); err != nil {
		t.Fatalf("ApplyWorkQueue: %v", err)
	}
	changed := proto.CloneOf(stored)
	changed.Queue = "urgent"
	changed.Env["MODE"] = "delta"
	got := e.applyDeployment(t, "load", changed)
	want = &ferryv1.ApplyDeploymentResponse{
		Changed: true,
		Deployment: &ferryv1.Deployment{
			Id: first.GetDeployment().GetId(), Name: "load", Version: 2, Spec: changed,
			CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t2),
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("change (-want +got):\n%s", diff)
	}

	read, err := e.deployments.GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{Name: "load"}))
	if err != nil {
		t.Fatalf("GetDeployment: %v", err)
	}
	if diff := cmp.Diff(want.GetDeployment(), read.Msg.GetDeployment(), protocmp.Transform()); diff != "" {
		t.Errorf("GetDeployment (-want +got):\n%s", diff)
	}

	versions, err := e.deployments.ListDeploymentVersions(ctx, connect.NewRequest(&ferryv1.ListDeploymentVersionsRequest{Name: "load"}))
	if err != nil {
		t.Fatalf("ListDeploymentVersions: %v", err)
	}
	wantVersions := []*ferryv1.DeploymentVersion{
		{Version: 2, Spec: changed, CreateTime: timestamppb.New(t2), CreatedBy: poolTestSubject},
		{Version: 1, Spec: stored, CreateTime: timestamppb.New(t0), CreatedBy: poolTestSubject},
	}
	if diff := cmp.Diff(wantVersions, versions.Msg.GetVersions(), protocmp.Transform(),
		protocmp.IgnoreFields(&ferryv1.DeploymentVersion{}, "spec_hash")); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	hashes := versions.Msg.GetVersions()
	if len(hashes) == 2 && (len(hashes[0].GetSpecHash()) != 64 || hashes[0].GetSpecHash() == hashes[1].GetSpecHash()) {
		t.Errorf("spec hashes %q and %q: want two distinct SHA-256 hex digests",
			hashes[0].GetSpecHash(), hashes[1].GetSpecHash())
	}
}

func TestApplyDeploymentRejected(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	e.applyPool(t, "boxes", poolTestDocker)

	with := func(change func(s *ferryv1.DeploymentSpec)) *ferryv1.DeploymentSpec {
		s := poolTestSpec("etl")
		change(s)
		return s
	}
	tests := []struct {
		name    string
		spec    *ferryv1.DeploymentSpec
		code    connect.Code
		message string
	}{
		{"no command", with(func(s *ferryv1.DeploymentSpec) { s.Command = nil }),
			connect.CodeInvalidArgument, "spec.command: must name the program"},
		{"empty program", with(func(s *ferryv1.DeploymentSpec) { s.Command = []string{"", "x"} }),
			connect.CodeInvalidArgument, "spec.command: must name the program"},
		{"bad env name", with(func(s *ferryv1.DeploymentSpec) { s.Env["A=B"] = "c" }),
			connect.CodeInvalidArgument, `spec.env: "A=B" is not an environment variable name`},
		{"schema does not compile", with(func(s *ferryv1.DeploymentSpec) { s.ParametersSchema = `{"type":"nonsense"}` }),
			connect.CodeInvalidArgument, "spec.parameters_schema: invalid parameters schema"},
		{"schema with external reference", with(func(s *ferryv1.DeploymentSpec) {
			s.ParametersSchema = `{"$ref":"file:///etc/passwd"}`
		}), connect.CodeInvalidArgument, "spec.parameters_schema: invalid parameters schema"},
		{"defaults not an object", with(func(s *ferryv1.DeploymentSpec) { s.DefaultParameters = `[1]` }),
			connect.CodeInvalidArgument, "spec.default_parameters: "},
		{"defaults violate schema", with(func(s *ferryv1.DeploymentSpec) { s.DefaultParameters = `{"day":3}` }),
			connect.CodeInvalidArgument, `spec.default_parameters: does not satisfy parameters_schema: parameter "day"`},
		{"negative timeout", with(func(s *ferryv1.DeploymentSpec) { s.Timeout = durationpb.New(-time.Second) }),
			connect.CodeInvalidArgument, "spec.timeout: must not be negative"},
		{"timeout over a week", with(func(s *ferryv1.DeploymentSpec) { s.Timeout = durationpb.New(7*24*time.Hour + time.Second) }),
			connect.CodeInvalidArgument, "spec.timeout: must be at most 168h0m0s"},
		{"invalid duration", with(func(s *ferryv1.DeploymentSpec) { s.Timeout = &durationpb.Duration{Seconds: 1, Nanos: -1} }),
			connect.CodeInvalidArgument, "spec.timeout: "},
		{"negative retry delay", with(func(s *ferryv1.DeploymentSpec) { s.Retry.Delay = durationpb.New(-time.Minute) }),
			connect.CodeInvalidArgument, "spec.retry.delay: must not be negative"},
		{"retry delay over an hour", with(func(s *ferryv1.DeploymentSpec) { s.Retry.Delay = durationpb.New(61 * time.Minute) }),
			connect.CodeInvalidArgument, "spec.retry.delay: must be at most 1h0m0s"},
		{"unspecified retry condition", with(func(s *ferryv1.DeploymentSpec) {
			s.Retry.On = []ferryv1.RetryCondition{ferryv1.RetryCondition_RETRY_CONDITION_FAILED, 0}
		}), connect.CodeInvalidArgument, "spec.retry.on[1]: "},
		{"docker pool without image", with(func(s *ferryv1.DeploymentSpec) { s.Pool = "boxes" }),
			connect.CodeInvalidArgument, `spec.image: is required: work pool "boxes" is of type docker`},
		{"unknown pool", with(func(s *ferryv1.DeploymentSpec) { s.Pool = "nope" }),
			connect.CodeNotFound, `work pool "nope" not found; create it first with ` + "`ferry apply`"},
		{"unknown queue", with(func(s *ferryv1.DeploymentSpec) { s.Queue = "nope" }),
			connect.CodeNotFound, `work queue "nope" not found in work pool "etl"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
				Name: "load", Spec: tt.spec,
			}))
			poolTestWantCode(t, err, tt.code, tt.message)
		})
	}

	list, err := e.deployments.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{}))
	if err != nil || len(list.Msg.GetDeployments()) != 0 {
		t.Fatalf("deployments after rejected applies: %v, %v; want none", list, err)
	}

	// An image is required by container pools and accepted, unused, by
	// process pools.
	for _, pool := range []string{"boxes", "etl"} {
		s := poolTestSpec(pool)
		s.Image = "registry.local/etl:1"
		if got := e.applyDeployment(t, "load-"+pool, s); !got.GetChanged() {
			t.Errorf("apply with image on pool %s: changed = false", pool)
		}
	}
}

func TestApplyDeploymentConcurrent(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)

	const appliers = 8
	resps := make([]*ferryv1.ApplyDeploymentResponse, appliers)
	errs := e.together(t, appliers, func(i int) error {
		resp, err := e.deployments.ApplyDeployment(ctx, connect.NewRequest(&ferryv1.ApplyDeploymentRequest{
			Name: "burst", Spec: poolTestSpec("etl"),
		}))
		if err == nil {
			resps[i] = resp.Msg
		}
		return err
	})

	changed := 0
	ids := map[string]bool{}
	for i := range appliers {
		if errs[i] != nil {
			t.Errorf("apply %d: %v", i, errs[i])
			continue
		}
		if resps[i].GetChanged() {
			changed++
		}
		if v := resps[i].GetDeployment().GetVersion(); v != 1 {
			t.Errorf("apply %d answered version %d, want 1", i, v)
		}
		ids[resps[i].GetDeployment().GetId()] = true
	}
	if changed != 1 || len(ids) != 1 {
		t.Errorf("%d applies reported a change and %d deployment ids were answered; want 1 and 1", changed, len(ids))
	}
	versions, err := e.deployments.ListDeploymentVersions(ctx, connect.NewRequest(&ferryv1.ListDeploymentVersionsRequest{Name: "burst"}))
	if err != nil {
		t.Fatalf("ListDeploymentVersions: %v", err)
	}
	if n := len(versions.Msg.GetVersions()); n != 1 {
		t.Errorf("%d versions recorded, want 1", n)
	}
}

func TestListDeployments(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	e.applyPool(t, "other", poolTestProcess)
	for i := range 5 {
		e.applyDeployment(t, fmt.Sprintf("job-%d", i), poolTestSpec("etl"))
	}
	e.applyDeployment(t, "aside", poolTestSpec("other"))

	list := func(req *ferryv1.ListDeploymentsRequest) *ferryv1.ListDeploymentsResponse {
		t.Helper()
		resp, err := e.deployments.ListDeployments(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("ListDeployments(%v): %v", req, err)
		}
		return resp.Msg
	}
	names := func(resp *ferryv1.ListDeploymentsResponse) []string {
		var n []string
		for _, d := range resp.GetDeployments() {
			n = append(n, d.GetName())
		}
		return n
	}

	var pages [][]string
	token := ""
	for {
		resp := list(&ferryv1.ListDeploymentsRequest{Pool: "etl", PageSize: 2, PageToken: token})
		pages = append(pages, names(resp))
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
		if len(pages) > 5 {
			t.Fatalf("paging does not end: %v", pages)
		}
	}
	wantPages := [][]string{{"job-0", "job-1"}, {"job-2", "job-3"}, {"job-4"}}
	if diff := cmp.Diff(wantPages, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	all := list(&ferryv1.ListDeploymentsRequest{})
	if diff := cmp.Diff([]string{"aside", "job-0", "job-1", "job-2", "job-3", "job-4"}, names(all)); diff != "" {
		t.Errorf("default page (-want +got):\n%s", diff)
	}
	if all.GetNextPageToken() != "" {
		t.Errorf("last page has next_page_token %q", all.GetNextPageToken())
	}
	if spec := all.GetDeployments()[0].GetSpec(); spec.GetPool() != "other" || spec.GetQueue() != "default" {
		t.Errorf("listed spec %v: want pool other, queue default", spec)
	}

	for _, bad := range []string{"not base64!", "aGVsbG8", strings.Repeat("A", 10)} {
		_, err := e.deployments.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{PageToken: bad}))
		poolTestWantCode(t, err, connect.CodeInvalidArgument, "page_token: ")
	}
}

func TestDeleteDeployment(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	first := e.applyDeployment(t, "load", poolTestSpec("etl"))
	del := func() error {
		_, err := e.deployments.DeleteDeployment(ctx, connect.NewRequest(&ferryv1.DeleteDeploymentRequest{Name: "load"}))
		return err
	}

	runs := []any{e.insertTestRun(t, e.ws, "load"), e.insertTestRun(t, e.ws, "load")}
	poolTestWantCode(t, del(), connect.CodeFailedPrecondition,
		`deployment "load" has 2 active runs; cancel them or wait for them to finish`)
	if _, err := e.store.Pool.Exec(ctx, `UPDATE runs SET state = 'CANCELLED', state_name = 'Cancelled' WHERE id IN ($1, $2)`,
		runs...); err != nil {
		t.Fatalf("end runs: %v", err)
	}
	if err := del(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err := e.deployments.GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{Name: "load"}))
	poolTestWantCode(t, err, connect.CodeNotFound, `deployment "load" not found`)
	poolTestWantCode(t, del(), connect.CodeNotFound, `deployment "load" not found`)

	// The name is free again, for a new deployment starting at version 1.
	again := e.applyDeployment(t, "load", poolTestSpec("etl"))
	if again.GetDeployment().GetId() == first.GetDeployment().GetId() || again.GetDeployment().GetVersion() != 1 ||
		!again.GetChanged() {
		t.Errorf("re-created deployment %v: want a new id at version 1", again.GetDeployment())
	}
}
