package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestRunAPIRejectsBadInput(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.setupDeployment(t, "typed", withSchema(`{"type":"object","properties":{"n":{"type":"integer"}}}`))
	create := func(tmpl *ferryv1.RunTemplate) func() error {
		return func() error {
			_, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{Run: tmpl}))
			return err
		}
	}
	tooDeep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	tooLarge := `{"s":"` + strings.Repeat("x", 70<<10) + `"}`
	tooManyTags := make([]string, 33)
	for i := range tooManyTags {
		tooManyTags[i] = "t"
	}

	tests := []struct {
		name string
		call func() error
		code connect.Code
		// msg is a part of the error message that tells what was wrong.
		msg string
	}{
		{"run id not a UUID", func() error {
			_, err := p.runs.GetRun(callCtx(t), connect.NewRequest(&ferryv1.GetRunRequest{Id: "not-a-uuid"}))
			return err
		}, connect.CodeInvalidArgument, "id"},
		{"cancel with a bad id", func() error {
			_, err := p.runs.CancelRun(callCtx(t), connect.NewRequest(&ferryv1.CancelRunRequest{Id: "1234"}))
			return err
		}, connect.CodeInvalidArgument, "id"},
		{"missing template", create(nil), connect.CodeInvalidArgument, "run"},
		{"bad deployment name", create(&ferryv1.RunTemplate{Deployment: "Bad Name!"}), connect.CodeInvalidArgument, "deployment"},
		{"parameters not an object", create(&ferryv1.RunTemplate{Deployment: "typed", Parameters: `[1,2]`}), connect.CodeInvalidArgument, "parameters"},
		{"parameters not JSON", create(&ferryv1.RunTemplate{Deployment: "typed", Parameters: `{"n":`}), connect.CodeInvalidArgument, "parameters"},
		{"parameters too deep", create(&ferryv1.RunTemplate{Deployment: "typed", Parameters: tooDeep}), connect.CodeInvalidArgument, "parameters"},
		{"parameters too large", create(&ferryv1.RunTemplate{Deployment: "typed", Parameters: tooLarge}), connect.CodeInvalidArgument, "parameters"},
		{"parameters against the schema", create(&ferryv1.RunTemplate{Deployment: "typed", Parameters: `{"n":"seven"}`}), connect.CodeInvalidArgument, "parameters"},
		{"too many tags", create(&ferryv1.RunTemplate{Deployment: "typed", Tags: tooManyTags}), connect.CodeInvalidArgument, "tags"},
		{"idempotency key too long", create(&ferryv1.RunTemplate{Deployment: "typed", IdempotencyKey: strings.Repeat("k", 129)}), connect.CodeInvalidArgument, "idempotency_key"},
		{"priority out of range", create(&ferryv1.RunTemplate{Deployment: "typed", Priority: ptr(int32(1001))}), connect.CodeInvalidArgument, "priority"},
		{"unknown deployment", create(&ferryv1.RunTemplate{Deployment: "nowhere"}), connect.CodeNotFound, "nowhere"},
		{"page size too big", func() error {
			_, err := p.runs.ListRuns(callCtx(t), connect.NewRequest(&ferryv1.ListRunsRequest{PageSize: 1001}))
			return err
		}, connect.CodeInvalidArgument, "page_size"},
		{"page token forged", func() error {
			_, err := p.runs.ListRuns(callCtx(t), connect.NewRequest(&ferryv1.ListRunsRequest{PageToken: "forged"}))
			return err
		}, connect.CodeInvalidArgument, "page_token"},
		{"log page size too big", func() error {
			_, err := p.runs.ListRunLogs(callCtx(t), connect.NewRequest(&ferryv1.ListRunLogsRequest{
				Id: "01890000-0000-7000-8000-000000000000", PageSize: 10001,
			}))
			return err
		}, connect.CodeInvalidArgument, "page_size"},
		{"unknown run", func() error {
			_, err := p.runs.GetRun(callCtx(t), connect.NewRequest(&ferryv1.GetRunRequest{Id: "01890000-0000-7000-8000-000000000000"}))
			return err
		}, connect.CodeNotFound, "01890000-0000-7000-8000-000000000000"},
		{"batch with one bad template", func() error {
			_, err := p.runs.CreateRuns(callCtx(t), connect.NewRequest(&ferryv1.CreateRunsRequest{Runs: []*ferryv1.RunTemplate{
				{Deployment: "typed", Parameters: `{"n":1}`}, {Deployment: "typed", Parameters: `{"n":1.5}`},
			}}))
			return err
		}, connect.CodeInvalidArgument, "runs[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			code, cerr := errCode(err)
			if cerr != nil || code != tt.code {
				t.Fatalf("error %v, want code %v", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
	if n := p.runCount(t); n != 0 {
		t.Errorf("%d runs were stored by rejected requests", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	p.setupDeployment(t, "hello")
	create := func(key string) *ferryv1.CreateRunResponse {
		t.Helper()
		resp, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
			Run: &ferryv1.RunTemplate{Deployment: "hello", IdempotencyKey: key, Parameters: `{"x":1}`},
		}))
		if err != nil {
			t.Fatalf("create run: %v", err)
		}
		return resp.Msg
	}
	first := create("nightly-2025-03-01")
	again := create("nightly-2025-03-01")
	other := create("nightly-2025-03-02")
	if !first.GetCreated() || again.GetCreated() || !other.GetCreated() {
		t.Errorf("created = %v, %v, %v; want true, false, true", first.GetCreated(), again.GetCreated(), other.GetCreated())
	}
	if again.GetRun().GetId() != first.GetRun().GetId() {
		t.Errorf("repeated key gave run %s, want %s", again.GetRun().GetId(), first.GetRun().GetId())
	}
	if other.GetRun().GetId() == first.GetRun().GetId() {
		t.Errorf("another key gave the same run %s", other.GetRun().GetId())
	}
	if n := p.runCount(t); n != 2 {
		t.Errorf("%d runs stored, want 2", n)
	}
	if h := p.history(t, first.GetRun().GetId()); len(h) != 1 {
		t.Errorf("the deduplicated run has %d history entries, want 1", len(h))
	}
}

// TestIdempotencyKeyConcurrent starts the same keyed run from many clients
// at once: exactly one run is created and every caller gets it.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	const callers = 16
	p := startPlane(t)
	p.setupDeployment(t, "hello")
	type answer struct {
		id      string
		created bool
		err     error
	}
	answers := make(chan answer, callers)
	start := make(chan struct{})
	for range callers {
		go func() {
			<-start
			resp, err := p.runs.CreateRun(callCtx(t), connect.NewRequest(&ferryv1.CreateRunRequest{
				Run: &ferryv1.RunTemplate{Deployment: "hello", IdempotencyKey: "once"},
			}))
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{id: resp.Msg.GetRun().GetId(), created: resp.Msg.GetCreated()}
		}()
	}
	close(start)
	ids := make(map[string]bool)
	created := 0
	for range callers {
		a := <-answers
		if a.err != nil {
			t.Errorf("create run: %v", a.err)
			continue
		}
		ids[a.id] = true
		if a.created {
			created++
		}
	}
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d distinct runs and %d created answers, want 1 and 1", len(ids), created)
	}
	if n := p.runCount(t); n != 1 {
		t.Errorf("%d runs stored, want 1", n)
	}
}

func TestWatchRunUntilFinal(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	stream, err := p.runs.WatchRun(callCtx(t), connect.NewRequest(&ferryv1.WatchRunRequest{Id: r.GetId()}))
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatalf("watch ended before its first message: %v", stream.Err())
	}
	seen := []ferryv1.RunState{stream.Msg().GetRun().GetState()}

	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.mustReport(t, lease(o), reportCompleted, exit(0))
	for stream.Receive() {
		seen = append(seen, stream.Msg().GetRun().GetState())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("watch ended with %v, want a clean end", err)
	}
	// Updates may be merged, but they come in order and end with the final state.
	order := map[ferryv1.RunState]int{scheduled: 0, pending: 1, running: 2, completed: 3}
	for i := 1; i < len(seen); i++ {
		if order[seen[i]] < order[seen[i-1]] {
			t.Errorf("watch went back from %v to %v: %v", seen[i-1], seen[i], seen)
		}
	}
	if seen[0] != scheduled || seen[len(seen)-1] != completed {
		t.Errorf("watch saw %v, want it to start SCHEDULED and end COMPLETED", seen)
	}
}

func TestFollowRunLogsUntilFinal(t *testing.T) {
	t.Parallel()
	p := startPlane(t)
	tok := p.setupDeployment(t, "hello")
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "hello", "")
	o := a.nextOrder(t)
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.sendLogs(t, lease(o), 1, "line 1", "line 2", "line 3")

	stream, err := p.runs.FollowRunLogs(callCtx(t), connect.NewRequest(&ferryv1.FollowRunLogsRequest{Id: r.GetId()}))
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	defer stream.Close()
	var got []string
	lines := make(chan []string, 100)
	done := make(chan error, 1)
	go func() {
		for stream.Receive() {
			var batch []string
			for _, l := range stream.Msg().GetLines() {
				batch = append(batch, l.GetText())
			}
			lines <- batch
		}
		done <- stream.Err()
	}()
	// Wait for the stored lines before sending more, so both paths (the
	// backlog and live lines) are exercised.
	for len(got) < 3 {
		select {
		case b := <-lines:
			got = append(got, b...)
		case err := <-done:
			t.Fatalf("follow ended early with %v after %v", err, got)
		}
	}
	a.sendLogs(t, lease(o), 4, "line 4", "line 5")
	a.sendLogs(t, lease(o), 6, "line 6")
	a.mustReport(t, lease(o), reportCompleted, exit(0))
	for {
		select {
		case b := <-lines:
			got = append(got, b...)
			continue
		case err := <-done:
			if err != nil {
				t.Fatalf("follow ended with %v, want a clean end", err)
			}
		}
		break
	}
	for len(lines) > 0 {
		got = append(got, <-lines...)
	}
	want := []string{"line 1", "line 2", "line 3", "line 4", "line 5", "line 6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("followed lines (-want +got):\n%s", diff)
	}
}

// TestLargeIntegerParameterKeptExact sends 2^53+1, which a float64 would
// round to 2^53, through CreateRun, GetRun and the agent's work order.
func TestLargeIntegerParameterKeptExact(t *testing.T) {
	t.Parallel()
	const big = "9007199254740993"
	p := startPlane(t)
	tok := p.setupDeployment(t, "big", func(s *ferryv1.DeploymentSpec) {
		s.DefaultParameters = `{"default_big":` + big + `}`
		s.ParametersSchema = `{"type":"object","properties":{"n":{"type":"integer","maximum":` + big + `}}}`
	})
	a := p.connectAgent(t, tok, "agent-1", 1)
	r := p.createRun(t, "big", `{"n":`+big+`}`)
	o := a.nextOrder(t)
	for where, params := range map[string]string{
		"CreateRun":  r.GetParameters(),
		"GetRun":     p.getRun(t, r.GetId()).GetParameters(),
		"work order": o.GetJob().GetParameters(),
	} {
		dec := json.NewDecoder(bytes.NewReader([]byte(params)))
		dec.UseNumber()
		var got map[string]json.Number
		if err := dec.Decode(&got); err != nil {
			t.Errorf("%s parameters %q: %v", where, params, err)
			continue
		}
		want := map[string]json.Number{"n": big, "default_big": big}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s parameters (-want +got):\n%s", where, diff)
		}
	}
	a.mustClaim(t, o)
	a.mustReport(t, lease(o), reportStarted, nil)
	a.mustReport(t, lease(o), reportCompleted, exit(0))
}
