package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "apply", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseApplyFileGood(t *testing.T) {
	t.Parallel()
	want := &applyFile{
		Pools: []*ferryv1.ApplyWorkPoolRequest{{
			Name: "local", Type: ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS,
			Description: "runs on this machine", ConcurrencyLimit: 4,
		}},
		Queues: []*ferryv1.ApplyWorkQueueRequest{
			{Pool: "local", Name: "default"},
			{Pool: "local", Name: "urgent", Priority: 10, ConcurrencyLimit: 2},
		},
		Deployments: []*ferryv1.ApplyDeploymentRequest{{
			Name: "tzreport",
			Spec: &ferryv1.DeploymentSpec{
				Pool:        "local",
				Queue:       "urgent",
				Description: "time zone report",
				Command:     []string{"tzreport", "--day", "{{ .day }}"},
				Env:         map[string]string{"LOG_LEVEL": "info", "PORT": "8080"},
				WorkingDir:  "/srv/tzreport",
				ParametersSchema: `{"type":"object","properties":{"day":{"type":"string","format":"date"},` +
					`"limit":{"type":"integer","maximum":9007199254740993}},"required":["day"]}`,
				DefaultParameters: `{"limit":9007199254740993,"ratio":0.1000000000000000055511151231257827,` +
					`"hex":31,"note":"<b>&</b>","empty":null,"flags":[true,false]}`,
				Timeout: durationpb.New(5 * time.Minute),
				Retry: &ferryv1.RetryPolicy{
					Retries: 2,
					Delay:   durationpb.New(2 * time.Second),
					On: []ferryv1.RetryCondition{
						ferryv1.RetryCondition_RETRY_CONDITION_FAILED,
						ferryv1.RetryCondition_RETRY_CONDITION_CRASHED,
						ferryv1.RetryCondition_RETRY_CONDITION_TIMED_OUT,
					},
				},
				Tags:     []string{"report", "nightly"},
				Priority: 5,
			},
		}},
	}
	got, err := parseApplyFile("good.yaml", readTestdata(t, "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("parseApplyFile mismatch (-want +got):\n%s", diff)
	}
}

func TestParseApplyFileAliasesAndJSONText(t *testing.T) {
	t.Parallel()
	got, err := parseApplyFile("aliases.yaml", readTestdata(t, "aliases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := got.Deployments[0].GetSpec(), got.Deployments[1].GetSpec()
	if diff := cmp.Diff([]string{"run", "job"}, b.GetCommand()); diff != "" {
		t.Errorf("aliased command (-want +got):\n%s", diff)
	}
	const defaults = `{"region":"eu","sizes":[1,2,3]}`
	if a.GetDefaultParameters() != defaults || b.GetDefaultParameters() != defaults {
		t.Errorf("default parameters = %q and %q, want both %q", a.GetDefaultParameters(), b.GetDefaultParameters(), defaults)
	}
	// A schema given as JSON text is sent as written, big integer included.
	const schema = `{"type": "object", "properties": {"n": {"maximum": 18446744073709551617}}}`
	if b.GetParametersSchema() != schema {
		t.Errorf("parameters_schema = %q, want %q", b.GetParametersSchema(), schema)
	}
	if got.Pools[0].GetType() != ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER {
		t.Errorf("pool type = %v, want docker", got.Pools[0].GetType())
	}
}

func TestParseApplyFileBigIntegerExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"beyond float64 precision", "9007199254740993", "9007199254740993"},
		{"beyond int64", "123456789012345678901234567890", "123456789012345678901234567890"},
		{"negative", "-9007199254740993", "-9007199254740993"},
		{"explicit plus", "+42", "42"},
		{"octal", "0o17", "15"},
		{"underscores", "1_000_000", "1000000"},
		{"exact decimal", "1.10", "1.10"},
		{"exponent", "1e300", "1e300"},
		{"largest unsigned hexadecimal", "0xFFFFFFFFFFFFFFFF", "18446744073709551615"},
		{"leading dot", ".5", "0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "deployments:\n  - name: d\n    pool: p\n    command: [x]\n    default_parameters:\n      n: " + tt.value + "\n"
			got, err := parseApplyFile("f.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			want := `{"n":` + tt.want + `}`
			if params := got.Deployments[0].GetSpec().GetDefaultParameters(); params != want {
				t.Errorf("default_parameters = %s, want %s", params, want)
			}
			if !json.Valid([]byte(want)) {
				t.Errorf("%s is not valid JSON", want)
			}
		})
	}
}

func TestParseApplyFileEmpty(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "# only a comment\n", "~\n", "pools:\nqueues: []\n"} {
		got, err := parseApplyFile("f.yaml", []byte(src))
		if err != nil {
			t.Errorf("parseApplyFile(%q): %v", src, err)
			continue
		}
		if n := len(got.Pools) + len(got.Queues) + len(got.Deployments); n != 0 {
			t.Errorf("parseApplyFile(%q) returned %d items, want none", src, n)
		}
	}
}

func TestParseApplyFileErrors(t *testing.T) {
	t.Parallel()
	const deploy = "deployments:\n  - name: d\n    pool: p\n    command: [x]\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown field names file, line and field",
			src:  string(readTestdata(t, "unknown-field.yaml")),
			want: []string{`f.yaml:4: unknown field "colour" in work pool "local"`, "known fields: base_job_template, concurrency_limit, description, name, paused, type"},
		},
		{
			name: "unknown top-level field",
			src:  "pools: []\nschedules: []\n",
			want: []string{`f.yaml:2: unknown field "schedules" in the file`},
		},
		{
			name: "top level not a mapping",
			src:  "- a\n- b\n",
			want: []string{"f.yaml:1: the file must be a mapping of fields"},
		},
		{
			name: "bool written as yes",
			src:  "pools:\n  - name: p\n    type: process\n    paused: yes\n",
			want: []string{`f.yaml:4: paused must be true or false, not "yes"`},
		},
		{
			name: "priority out of range",
			src:  "queues:\n  - pool: p\n    name: q\n    priority: 5000\n",
			want: []string{"f.yaml:4: priority must be between -1000 and 1000, not 5000"},
		},
		{
			name: "integer field given text",
			src:  "pools:\n  - name: p\n    type: process\n    concurrency_limit: many\n",
			want: []string{`f.yaml:4: concurrency_limit must be a whole number, not "many"`},
		},
		{
			name: "bad resource name",
			src:  "pools:\n  - name: Local_Pool\n    type: process\n",
			want: []string{`f.yaml:2: name "Local_Pool": want 1 to 63 lower-case letters`},
		},
		{
			name: "duplicate pool",
			src:  "pools:\n  - {name: p, type: process}\n  - {name: p, type: docker}\n",
			want: []string{`f.yaml:3: work pool "p" is already defined on line 2`},
		},
		{
			name: "pool type missing and unknown",
			src:  "pools:\n  - name: a\n  - name: b\n    type: k8s\n",
			want: []string{`f.yaml:2: work pool "a": type is required`, `f.yaml:4: type must be process, docker or ecs, not "k8s"`},
		},
		{
			name: "deployment without pool and command",
			src:  "deployments:\n  - name: d\n",
			want: []string{`f.yaml:2: deployment "d": pool is required`, `f.yaml:2: deployment "d": command is required`},
		},
		{
			name: "command as a string",
			src:  "deployments:\n  - name: d\n    pool: p\n    command: echo hi\n",
			want: []string{"f.yaml:4: command must be a list"},
		},
		{
			name: "second document",
			src:  deploy + "---\npools: []\n",
			want: []string{"f.yaml:5: only one YAML document is allowed"},
		},
		{
			name: "syntax error",
			src:  "pools: [\n",
			want: []string{"f.yaml: yaml:"},
		},
		{
			name: "retry_on unknown",
			src:  deploy + "    retry_on: [failed, oom]\n",
			want: []string{`f.yaml:5: retry_on: want failed, crashed or timed_out, not "oom"`},
		},
		{
			name: "default_parameters as a list",
			src:  deploy + "    default_parameters: [1, 2]\n",
			want: []string{"f.yaml:5: default_parameters must be a mapping, or a string holding a JSON object"},
		},
		{
			name: "parameters_schema string that is not JSON",
			src:  deploy + "    parameters_schema: 'type: object'\n",
			want: []string{"f.yaml:5: parameters_schema must be a mapping, or a string holding a JSON object"},
		},
		{
			name: "infinity in parameters",
			src:  deploy + "    default_parameters:\n      x: .inf\n",
			want: []string{"f.yaml:6: default_parameters: .inf is not a number JSON can hold"},
		},
		{
			name: "duplicate key in parameters",
			src:  deploy + "    default_parameters:\n      x: 1\n      x: 2\n",
			want: []string{`f.yaml:7: default_parameters: key "x" appears twice`},
		},
		{
			name: "duplicate field",
			src:  deploy + "    pool: q\n",
			want: []string{`f.yaml:5: deployment "d": field "pool" is already set on line 3`},
		},
		{
			name: "merge key",
			src:  "base: &b {pool: p}\n",
			want: []string{`f.yaml:1: unknown field "base"`},
		},
		{
			name: "merge key in a deployment",
			src:  "deployments:\n  - <<: {pool: p}\n    name: d\n    command: [x]\n",
			want: []string{"f.yaml:2: deployment \"d\": merge keys (<<) are not supported"},
		},
		{
			name: "bad duration",
			src:  deploy + "    timeout: 5 minutes\n",
			want: []string{`f.yaml:5: timeout must be a duration such as 30s, 5m or 1h30m, not "5 minutes"`},
		},
		{
			name: "bad env name",
			src:  deploy + "    env:\n      1BAD: x\n",
			want: []string{`f.yaml:6: env: "1BAD" is not a variable name`},
		},
		{
			name: "tag with a space",
			src:  deploy + "    tags: [\"two words\"]\n",
			want: []string{`f.yaml:5: tag "two words": want 1 to 63 printable characters without spaces`},
		},
		{
			name: "custom tag in parameters",
			src:  deploy + "    default_parameters:\n      x: !secret abc\n",
			want: []string{"f.yaml:6: default_parameters: YAML tag !secret has no JSON equivalent"},
		},
		{
			name: "too deep",
			src:  deploy + "    default_parameters: {a: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}\n",
			want: []string{"default_parameters: nested deeper than 64 levels"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseApplyFile("f.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("parseApplyFile succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseApplyFileAliasBomb(t *testing.T) {
	t.Parallel()
	// Each level doubles the previous one: 2^30 values if expanded.
	var b strings.Builder
	b.WriteString("x0: &a0 [1, 1]\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("x" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]\n")
	}
	src := "deployments:\n  - name: d\n    pool: p\n    command: [x]\n    default_parameters:\n" +
		indent(b.String(), "      ")
	_, err := parseApplyFile("f.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "default_parameters:") {
		t.Fatalf("parseApplyFile error = %v, want a default_parameters size error", err)
	}
}

func TestParseApplyFileCollectsManyErrors(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("pools:\n")
	for range 30 {
		b.WriteString("  - {name: p, type: nope}\n")
	}
	_, err := parseApplyFile("f.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("parseApplyFile succeeded, want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxReportedErrors+1 || !strings.Contains(lines[len(lines)-1], "too many errors") {
		t.Errorf("got %d error lines ending %q, want %d ending with the too-many note", len(lines), lines[len(lines)-1], maxReportedErrors+1)
	}
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
