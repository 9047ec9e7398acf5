package validate

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	runID     = "123e4567-e89b-12d3-a456-426614174000"
	sessionID = "0b6f4a52-8c1e-4f59-9d3a-2c7e5f1a9b80"

	nameReason  = "must be a name: 1 to 63 lower-case letters, digits and '-', starting with a letter and not ending with '-'"
	uuidReason  = "must be a lower-case UUID such as 123e4567-e89b-12d3-a456-426614174000"
	labelReason = "must be 1 to 63 printable characters without spaces"
	envReason   = "key must be an environment variable name: letters, digits and '_', not starting with a digit"
)

func validRun() *ferryv1.RunTemplate {
	return &ferryv1.RunTemplate{
		Deployment:        "etl-daily",
		Parameters:        `{"n":9007199254740993,"ratio":1.50}`,
		IdempotencyKey:    "key-1",
		Tags:              []string{"team:data", "🚀", "שלום"},
		Priority:          proto.Int32(10),
		ExpectedStartTime: timestamppb.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
	}
}

func createRun(edit func(r *ferryv1.RunTemplate)) *ferryv1.CreateRunRequest {
	r := validRun()
	edit(r)
	return &ferryv1.CreateRunRequest{Run: r}
}

func validSpec() *ferryv1.DeploymentSpec {
	return &ferryv1.DeploymentSpec{
		Pool:              "docker-pool",
		Queue:             "default",
		Description:       "Nightly ETL",
		Command:           []string{"python", "etl.py", "--date", "{{ .date }}"},
		Env:               map[string]string{"HOME": "/home/etl", "_PRIVATE": "", "PATH2": "/bin"},
		WorkingDir:        "/srv",
		ParametersSchema:  `{"type":"object","properties":{"date":{"type":"string","format":"date"}}}`,
		DefaultParameters: `{"date":"2024-01-01"}`,
		Timeout:           durationpb.New(2 * time.Hour),
		Retry: &ferryv1.RetryPolicy{
			Retries: 3,
			Delay:   durationpb.New(10 * time.Second),
			On:      []ferryv1.RetryCondition{ferryv1.RetryCondition_RETRY_CONDITION_FAILED},
		},
		Tags:     []string{"etl"},
		Priority: -5,
		Image:    "registry.local/etl:1.2.3",
	}
}

func applyDeployment(edit func(s *ferryv1.DeploymentSpec)) *ferryv1.ApplyDeploymentRequest {
	s := validSpec()
	edit(s)
	return &ferryv1.ApplyDeploymentRequest{Name: "etl-daily", Spec: s}
}

func lease() *ferryv1.RunLease {
	return &ferryv1.RunLease{RunId: runID, Attempt: 1, LeaseToken: 7}
}

func logLines(n int, edit func(i int, l *ferryv1.AgentLogLine)) []*ferryv1.AgentLogLine {
	lines := make([]*ferryv1.AgentLogLine, n)
	for i := range lines {
		lines[i] = &ferryv1.AgentLogLine{
			Seq:    int64(i + 1),
			Stream: ferryv1.LogStream_LOG_STREAM_STDOUT,
			Text:   fmt.Sprintf("line %d", i),
			Time:   timestamppb.New(time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC)),
		}
		if edit != nil {
			edit(i, lines[i])
		}
	}
	return lines
}

func strs(n int, s string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
		want *FieldError
	}{
		// CreateRun: required, NAME, JSON_OBJECT, max_len, LABEL, min/max.
		{name: "create run valid", msg: createRun(func(*ferryv1.RunTemplate) {})},
		{name: "create run missing run", msg: &ferryv1.CreateRunRequest{}, want: &FieldError{"run", "is required"}},
		{name: "deployment required", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "" }), want: &FieldError{"run.deployment", "is required"}},
		{name: "name one letter", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "a" })},
		{name: "name 63 characters", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "a" + strings.Repeat("-0", 31) })},
		{name: "name 64 characters", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "a" + strings.Repeat("b", 63) }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name upper case", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "Etl" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name starts with digit", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "1etl" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name starts with dash", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "-etl" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name ends with dash", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "etl-" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name underscore", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "etl_daily" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name accented", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "étl" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name zero-width space", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "etl\u200b" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "name fullwidth letters", msg: createRun(func(r *ferryv1.RunTemplate) { r.Deployment = "ｅｔｌ" }), want: &FieldError{"run.deployment", nameReason}},
		{name: "parameters empty allowed", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = "" })},
		{name: "parameters top-level array", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = `[1]` }), want: &FieldError{"run.parameters", "must be a JSON object"}},
		{name: "parameters duplicate key", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = `{"a":{"b":1,"b":2}}` }), want: &FieldError{"run.parameters", `parameter "a.b": duplicate key`}},
		{name: "parameters NaN", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = `{"x":NaN}` }), want: &FieldError{"run.parameters", `parameter "x": NaN and Infinity are not JSON numbers`}},
		{name: "parameters 64 KiB", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = sizedObject(65536) })},
		{name: "parameters 64 KiB + 1", msg: createRun(func(r *ferryv1.RunTemplate) { r.Parameters = sizedObject(65537) }), want: &FieldError{"run.parameters", "must be at most 65536 bytes"}},
		{name: "idempotency key 128 bytes", msg: createRun(func(r *ferryv1.RunTemplate) { r.IdempotencyKey = strings.Repeat("é", 64) })},
		{name: "idempotency key 129 bytes", msg: createRun(func(r *ferryv1.RunTemplate) { r.IdempotencyKey = strings.Repeat("é", 64) + "x" }), want: &FieldError{"run.idempotency_key", "must be at most 128 bytes"}},
		{name: "idempotency key invalid UTF-8", msg: createRun(func(r *ferryv1.RunTemplate) { r.IdempotencyKey = "k\xff" }), want: &FieldError{"run.idempotency_key", "must be valid UTF-8"}},
		{name: "32 tags", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = strs(32, "t") })},
		{name: "33 tags", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = strs(33, "t") }), want: &FieldError{"run.tags", "must have at most 32 items"}},
		{name: "tag of 63 emoji", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{strings.Repeat("🚀", 63)} })},
		{name: "tag of 64 emoji", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"a", strings.Repeat("🚀", 64)} }), want: &FieldError{"run.tags[1]", labelReason}},
		{name: "tag with combining mark", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"e\u0301"} })},
		{name: "tag with space", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"a", "b", "c", "d e"} }), want: &FieldError{"run.tags[3]", labelReason}},
		{name: "tag with no-break space", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"a\u00a0b"} }), want: &FieldError{"run.tags[0]", labelReason}},
		{name: "tag with zero-width joiner", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"a\u200db"} }), want: &FieldError{"run.tags[0]", labelReason}},
		{name: "tag with tab", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"a\tb"} }), want: &FieldError{"run.tags[0]", labelReason}},
		{name: "tag with right-to-left mark", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"\u200fabc"} }), want: &FieldError{"run.tags[0]", labelReason}},
		{name: "empty tag", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{""} }), want: &FieldError{"run.tags[0]", labelReason}},
		{name: "tag invalid UTF-8", msg: createRun(func(r *ferryv1.RunTemplate) { r.Tags = []string{"\xc3"} }), want: &FieldError{"run.tags[0]", "must be valid UTF-8"}},
		{name: "priority at max", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(1000) })},
		{name: "priority at min", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(-1000) })},
		{name: "optional priority set to zero", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(0) })},
		{name: "priority over max", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(1001) }), want: &FieldError{"run.priority", "must be <= 1000"}},
		{name: "priority under min", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(-1001) }), want: &FieldError{"run.priority", "must be >= -1000"}},
		{name: "timestamp out of range", msg: createRun(func(r *ferryv1.RunTemplate) { r.ExpectedStartTime = &timestamppb.Timestamp{Seconds: 1 << 60} }), want: &FieldError{"run.expected_start_time", "must be a valid timestamp between years 1 and 9999"}},
		{name: "first violation in field order", msg: createRun(func(r *ferryv1.RunTemplate) { r.Priority = proto.Int32(5000); r.Deployment = "X" }), want: &FieldError{"run.deployment", nameReason}},

		// CreateRuns: required list, nested index, max_items.
		{name: "create runs empty", msg: &ferryv1.CreateRunsRequest{}, want: &FieldError{"runs", "is required"}},
		{name: "create runs nested path", msg: &ferryv1.CreateRunsRequest{Runs: []*ferryv1.RunTemplate{validRun(), validRun(), {Deployment: "etl", Tags: []string{"ok", " "}}}}, want: &FieldError{"runs[2].tags[1]", labelReason}},
		{name: "create runs 5000", msg: &ferryv1.CreateRunsRequest{Runs: runs(5000)}},
		{name: "create runs 5001", msg: &ferryv1.CreateRunsRequest{Runs: runs(5001)}, want: &FieldError{"runs", "must have at most 5000 items"}},

		// UUID.
		{name: "uuid valid", msg: &ferryv1.GetRunRequest{Id: runID}},
		{name: "uuid nil", msg: &ferryv1.GetRunRequest{Id: "00000000-0000-0000-0000-000000000000"}},
		{name: "uuid missing", msg: &ferryv1.GetRunRequest{}, want: &FieldError{"id", "is required"}},
		{name: "uuid upper case", msg: &ferryv1.GetRunRequest{Id: strings.ToUpper(runID)}, want: &FieldError{"id", uuidReason}},
		{name: "uuid without dashes", msg: &ferryv1.GetRunRequest{Id: strings.ReplaceAll(runID, "-", "")}, want: &FieldError{"id", uuidReason}},
		{name: "uuid braces", msg: &ferryv1.GetRunRequest{Id: "{" + runID + "}"}, want: &FieldError{"id", uuidReason}},
		{name: "uuid urn", msg: &ferryv1.GetRunRequest{Id: "urn:uuid:" + runID}, want: &FieldError{"id", uuidReason}},
		{name: "uuid dashes misplaced", msg: &ferryv1.GetRunRequest{Id: "123e4567e-89b-12d3-a456-426614174000"}, want: &FieldError{"id", uuidReason}},
		{name: "uuid non-hex", msg: &ferryv1.CancelRunRequest{Id: "123e4567-e89b-12d3-a456-42661417400g"}, want: &FieldError{"id", uuidReason}},
		{name: "uuid fullwidth digit", msg: &ferryv1.RetryRunRequest{Id: "123e4567-e89b-12d3-a456-4266141740０"}, want: &FieldError{"id", uuidReason}},
		{name: "cancel reason 1024", msg: &ferryv1.CancelRunRequest{Id: runID, Reason: strings.Repeat("r", 1024)}},
		{name: "cancel reason 1025", msg: &ferryv1.CancelRunRequest{Id: runID, Reason: strings.Repeat("r", 1025)}, want: &FieldError{"reason", "must be at most 1024 bytes"}},

		// ListRuns: int range, enum list, page token.
		{name: "list runs zero value", msg: &ferryv1.ListRunsRequest{}},
		{name: "page size negative", msg: &ferryv1.ListRunsRequest{PageSize: -1}, want: &FieldError{"page_size", "must be >= 0"}},
		{name: "page size 1001", msg: &ferryv1.ListRunsRequest{PageSize: 1001}, want: &FieldError{"page_size", "must be <= 1000"}},
		{name: "page token 256", msg: &ferryv1.ListRunsRequest{PageToken: strings.Repeat("t", 256)}},
		{name: "page token 257", msg: &ferryv1.ListRunsRequest{PageToken: strings.Repeat("t", 257)}, want: &FieldError{"page_token", "must be at most 256 bytes"}},
		{name: "states 9", msg: &ferryv1.ListRunsRequest{States: make([]ferryv1.RunState, 9)}, want: &FieldError{"states", "must have at most 8 items"}},
		{name: "list logs attempt negative", msg: &ferryv1.ListRunLogsRequest{Id: runID, Attempt: -1}, want: &FieldError{"attempt", "must be >= 0"}},

		// ApplyDeployment: maps with ENV_NAME keys, durations, JSON Schema.
		{name: "apply deployment valid", msg: applyDeployment(func(*ferryv1.DeploymentSpec) {})},
		{name: "apply deployment missing spec", msg: &ferryv1.ApplyDeploymentRequest{Name: "etl"}, want: &FieldError{"spec", "is required"}},
		{name: "spec pool required", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Pool = "" }), want: &FieldError{"spec.pool", "is required"}},
		{name: "spec command required", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Command = nil }), want: &FieldError{"spec.command", "is required"}},
		{name: "command element 4096", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Command[3] = strings.Repeat("a", 4096) })},
		{name: "command element 4097", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Command[3] = strings.Repeat("a", 4097) }), want: &FieldError{"spec.command[3]", "must be at most 4096 bytes"}},
		{name: "command empty element allowed", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Command = append(s.Command, "") })},
		{name: "command 257 elements", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Command = strs(257, "x") }), want: &FieldError{"spec.command", "must have at most 256 items"}},
		{name: "env key starting with digit", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["1BAD"] = "x" }), want: &FieldError{`spec.env["1BAD"]`, envReason}},
		{name: "env key with dash", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["MY-VAR"] = "x" }), want: &FieldError{`spec.env["MY-VAR"]`, envReason}},
		{name: "env key with unicode letter", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["ÄPFEL"] = "x" }), want: &FieldError{`spec.env["ÄPFEL"]`, envReason}},
		{name: "env key empty", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env[""] = "x" }), want: &FieldError{`spec.env[""]`, envReason}},
		{name: "env keys checked in key order", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["Z-1"] = ""; s.Env["A-1"] = "" }), want: &FieldError{`spec.env["A-1"]`, envReason}},
		{name: "env value 8192", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["HOME"] = strings.Repeat("v", 8192) })},
		{name: "env value 8193", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["HOME"] = strings.Repeat("v", 8193) }), want: &FieldError{`spec.env["HOME"]`, "must be at most 8192 bytes"}},
		{name: "env value invalid UTF-8", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["HOME"] = "\xff" }), want: &FieldError{`spec.env["HOME"]`, "must be valid UTF-8"}},
		{name: "env key 8193 shortened in path", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env[strings.Repeat("K", 8193)] = "" }), want: &FieldError{`spec.env["` + strings.Repeat("K", 64) + `…"]`, "key must be at most 8192 bytes"}},
		{name: "env 256 entries", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env = envVars(256) })},
		{name: "env 257 entries", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env = envVars(257) }), want: &FieldError{"spec.env", "must have at most 256 items"}},
		{name: "schema not compiling", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.ParametersSchema = `{"type":"objekt"}` }), want: &FieldError{"spec.parameters_schema", `must be a valid JSON Schema: at "/type": must match at least one of the allowed schemas (anyOf)`}},
		{name: "schema not an object", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.ParametersSchema = `true` }), want: &FieldError{"spec.parameters_schema", "must be a valid JSON Schema: must be a JSON object"}},
		{name: "schema with file reference", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.ParametersSchema = `{"$ref":"file:///etc/passwd"}` }), want: &FieldError{"spec.parameters_schema", `must be a valid JSON Schema: reference "file:///etc/passwd": references outside the schema are not allowed`}},
		{name: "default parameters null", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.DefaultParameters = `null` }), want: &FieldError{"spec.default_parameters", "must be a JSON object"}},
		{name: "timeout exactly 7 days", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Timeout = durationpb.New(MaxDuration) })},
		{name: "timeout 7 days + 1ns", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Timeout = durationpb.New(MaxDuration + 1) }), want: &FieldError{"spec.timeout", "must be at most 7 days"}},
		{name: "timeout negative", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Timeout = durationpb.New(-time.Second) }), want: &FieldError{"spec.timeout", "must not be negative"}},
		{name: "timeout zero", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Timeout = &durationpb.Duration{} })},
		{name: "retry delay mixed signs", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Retry.Delay = &durationpb.Duration{Seconds: 1, Nanos: -1} }), want: &FieldError{"spec.retry.delay", "must be a valid duration"}},
		{name: "retries 101", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Retry.Retries = 101 }), want: &FieldError{"spec.retry.retries", "must be <= 100"}},
		{name: "retry conditions 4", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Retry.On = make([]ferryv1.RetryCondition, 4) }), want: &FieldError{"spec.retry.on", "must have at most 3 items"}},
		{name: "description 2048", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Description = strings.Repeat("d", 2048) })},
		{name: "description 2049", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Description = strings.Repeat("d", 2049) }), want: &FieldError{"spec.description", "must be at most 2048 bytes"}},
		{name: "image 513", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Image = strings.Repeat("i", 513) }), want: &FieldError{"spec.image", "must be at most 512 bytes"}},
		{name: "queue empty allowed", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Queue = "" })},
		{name: "queue bad name", msg: applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Queue = "Default" }), want: &FieldError{"spec.queue", nameReason}},

		// Work pools: required enum.
		{name: "pool type required", msg: &ferryv1.ApplyWorkPoolRequest{Name: "p"}, want: &FieldError{"type", "is required"}},
		{name: "pool limit 1000001", msg: &ferryv1.ApplyWorkPoolRequest{Name: "p", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER, ConcurrencyLimit: 1_000_001}, want: &FieldError{"concurrency_limit", "must be <= 1000000"}},

		// Agent protocol.
		{name: "subscribe capacity 0", msg: &ferryv1.SubscribeRequest{Name: "agent-1"}, want: &FieldError{"capacity", "must be >= 1"}},
		{name: "subscribe version 65", msg: &ferryv1.SubscribeRequest{Name: "agent-1", Capacity: 1, Version: strings.Repeat("v", 65)}, want: &FieldError{"version", "must be at most 64 bytes"}},
		{name: "claim attempt 0", msg: &ferryv1.ClaimRunsRequest{SessionId: sessionID, Claims: []*ferryv1.RunLease{lease(), {RunId: runID, LeaseToken: 1}}}, want: &FieldError{"claims[1].attempt", "must be >= 1"}},
		{name: "claim run id", msg: &ferryv1.ClaimRunsRequest{SessionId: sessionID, Claims: []*ferryv1.RunLease{{RunId: "run-1", Attempt: 1, LeaseToken: 1}}}, want: &FieldError{"claims[0].run_id", uuidReason}},
		{name: "report kind required", msg: &ferryv1.ReportStatesRequest{SessionId: sessionID, Reports: []*ferryv1.StateReport{{Lease: lease()}}}, want: &FieldError{"reports[0].kind", "is required"}},
		{name: "report lease required", msg: &ferryv1.ReportStatesRequest{SessionId: sessionID, Reports: []*ferryv1.StateReport{{Kind: ferryv1.ReportKind_REPORT_KIND_STARTED}}}, want: &FieldError{"reports[0].lease", "is required"}},
		{name: "report nested lease token", msg: &ferryv1.ReportStatesRequest{SessionId: sessionID, Reports: []*ferryv1.StateReport{{Kind: ferryv1.ReportKind_REPORT_KIND_STARTED, Lease: &ferryv1.RunLease{RunId: runID, Attempt: 1}}}}, want: &FieldError{"reports[0].lease.lease_token", "must be >= 1"}},
		{name: "heartbeat 10000 live", msg: &ferryv1.HeartbeatRequest{SessionId: sessionID, Live: leases(10000)}},
		{name: "heartbeat 10001 live", msg: &ferryv1.HeartbeatRequest{SessionId: sessionID, Live: leases(10001)}, want: &FieldError{"live", "must have at most 10000 items"}},
		{name: "send logs 1000 lines", msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{{Lease: lease(), Lines: logLines(1000, nil)}}}},
		{name: "log text 64 KiB", msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{{Lease: lease(), Lines: logLines(3, func(_ int, l *ferryv1.AgentLogLine) { l.Text = strings.Repeat("x", 65536) })}}}},
		{
			name: "log text 64 KiB + 1 deep in a batch",
			msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{
				{Lease: lease(), Lines: logLines(3, nil)},
				{Lease: lease(), Lines: logLines(3, func(i int, l *ferryv1.AgentLogLine) {
					if i == 2 {
						l.Text = strings.Repeat("x", 65537)
					}
				})},
			}},
			want: &FieldError{"batches[1].lines[2].text", "must be at most 65536 bytes"},
		},
		{name: "log seq 0", msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{{Lease: lease(), Lines: logLines(2, func(i int, l *ferryv1.AgentLogLine) { l.Seq = int64(i) })}}}, want: &FieldError{"batches[0].lines[0].seq", "must be >= 1"}},
		{name: "log lines 10001", msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{{Lease: lease(), Lines: logLines(10001, nil)}}}, want: &FieldError{"batches[0].lines", "must have at most 10000 items"}},
		{name: "log batch lines required", msg: &ferryv1.SendLogsRequest{SessionId: sessionID, Batches: []*ferryv1.LogBatch{{Lease: lease()}}}, want: &FieldError{"batches[0].lines", "is required"}},

		// Messages without rules still get the default bounds.
		{name: "default string cap", msg: &ferryv1.Run{StateMessage: strings.Repeat("m", DefaultMaxLen)}},
		{name: "default string cap + 1", msg: &ferryv1.Run{StateMessage: strings.Repeat("m", DefaultMaxLen+1)}, want: &FieldError{"state_message", "must be at most 65536 bytes"}},
		{name: "default items cap", msg: &ferryv1.Run{Tags: strs(DefaultMaxItems, "")}},
		{name: "default items cap + 1", msg: &ferryv1.Run{Tags: strs(DefaultMaxItems+1, "")}, want: &FieldError{"tags", "must have at most 10000 items"}},
		{name: "default element cap", msg: &ferryv1.Run{Tags: []string{"a", strings.Repeat("t", DefaultMaxLen+1)}}, want: &FieldError{"tags[1]", "must be at most 65536 bytes"}},
		{name: "default map value cap", msg: &ferryv1.JobSpec{Env: map[string]string{"A": strings.Repeat("v", DefaultMaxLen+1)}}, want: &FieldError{`env["A"]`, "must be at most 65536 bytes"}},
		{name: "no format on unannotated map keys", msg: &ferryv1.JobSpec{Env: map[string]string{"not an env name": "v"}}},
		{name: "default duration bound", msg: &ferryv1.JobSpec{Timeout: durationpb.New(-time.Nanosecond)}, want: &FieldError{"timeout", "must not be negative"}},
		{name: "oneof member", msg: &ferryv1.SubscribeResponse{Message: &ferryv1.SubscribeResponse_WorkOrder{WorkOrder: &ferryv1.WorkOrder{Job: &ferryv1.JobSpec{Command: []string{strings.Repeat("c", DefaultMaxLen+1)}}}}}, want: &FieldError{"work_order.job.command[0]", "must be at most 65536 bytes"}},
		{name: "nil message", msg: nil},
		{name: "typed nil message", msg: (*ferryv1.CreateRunRequest)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Message(tt.msg)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Message = %v, want nil", err)
				}
				return
			}
			var got *FieldError
			if !errors.As(err, &got) {
				t.Fatalf("Message = %v (%T), want *FieldError %v", err, err, tt.want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Message error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldErrorText(t *testing.T) {
	t.Parallel()
	err := Message(createRun(func(r *ferryv1.RunTemplate) { r.Parameters = "[]" }))
	if got, want := fmt.Sprint(err), "run.parameters: must be a JSON object"; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    *durationpb.Duration
		max  time.Duration
		want *FieldError
	}{
		{name: "unset", d: nil, max: MaxDuration},
		{name: "zero", d: &durationpb.Duration{}, max: MaxDuration},
		{name: "at max", d: durationpb.New(MaxDuration), max: MaxDuration},
		{name: "over max", d: durationpb.New(MaxDuration + time.Nanosecond), max: MaxDuration, want: &FieldError{"timeout", "must be at most 7 days"}},
		{name: "one day max", d: durationpb.New(25 * time.Hour), max: 24 * time.Hour, want: &FieldError{"timeout", "must be at most 1 day"}},
		{name: "other max", d: durationpb.New(2 * time.Hour), max: 90 * time.Minute, want: &FieldError{"timeout", "must be at most 1h30m0s"}},
		{name: "negative", d: durationpb.New(-time.Nanosecond), max: MaxDuration, want: &FieldError{"timeout", "must not be negative"}},
		{name: "nanos out of range", d: &durationpb.Duration{Nanos: 1_000_000_000}, max: MaxDuration, want: &FieldError{"timeout", "must be a valid duration"}},
		{name: "beyond 10000 years", d: &durationpb.Duration{Seconds: 315_576_000_001}, max: MaxDuration, want: &FieldError{"timeout", "must be a valid duration"}},
		{name: "huge but valid", d: &durationpb.Duration{Seconds: 315_576_000_000}, max: MaxDuration, want: &FieldError{"timeout", "must be at most 7 days"}},
		{name: "exactly the largest time.Duration", d: &durationpb.Duration{Seconds: 9_223_372_036, Nanos: 854_775_807}, max: math.MaxInt64},
		{name: "just past the largest time.Duration", d: &durationpb.Duration{Seconds: 9_223_372_036, Nanos: 854_775_808}, max: math.MaxInt64, want: &FieldError{"timeout", "must be at most 2562047h47m16.854775807s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Duration("timeout", tt.d, tt.max)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Duration = %v, want nil", err)
				}
				return
			}
			var got *FieldError
			if !errors.As(err, &got) {
				t.Fatalf("Duration = %v, want *FieldError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Duration error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// sizedObject returns a JSON object of exactly n bytes.
func sizedObject(n int) string {
	const frame = len(`{"a":""}`)
	return `{"a":"` + strings.Repeat("x", n-frame) + `"}`
}

func runs(n int) []*ferryv1.RunTemplate {
	out := make([]*ferryv1.RunTemplate, n)
	for i := range out {
		out[i] = &ferryv1.RunTemplate{Deployment: "etl"}
	}
	return out
}

func leases(n int) []*ferryv1.RunLease {
	out := make([]*ferryv1.RunLease, n)
	for i := range out {
		out[i] = lease()
	}
	return out
}

func envVars(n int) map[string]string {
	out := make(map[string]string, n)
	for i := range n {
		out[fmt.Sprintf("VAR_%d", i)] = "v"
	}
	return out
}

// TestIsUUIDMatchesTheLibrary checks the hand-written UUID check against
// github.com/google/uuid: canonical means uuid.Parse(s).String() == s.
func TestIsUUIDMatchesTheLibrary(t *testing.T) {
	t.Parallel()
	inputs := []string{
		runID, sessionID, uuid.NewString(), uuid.Nil.String(), "ffffffff-ffff-ffff-ffff-ffffffffffff",
		strings.ToUpper(runID), "{" + runID + "}", "urn:uuid:" + runID, strings.ReplaceAll(runID, "-", ""),
		"123e4567-e89b-12d3-a456-42661417400g", "123e4567_e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-4266141740０",
		runID[:35], runID + "0", "", "------------------------------------",
	}
	for _, s := range inputs {
		u, err := uuid.Parse(s)
		want := err == nil && u.String() == s
		if got := isUUID(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
