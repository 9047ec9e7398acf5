package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/secrets"
	"github.com/ferryhq/ferry/internal/awsfake"
)

// Every secret value in these tests holds this marker, so a test can check
// that no error text carries a value.
const marker = "s3cr3t"

type bundle struct {
	srv      *awsfake.Server
	sm       *awsfake.SecretsManager
	ps       *awsfake.SSM
	dir      string
	resolver *secrets.Resolver
}

func setup(t *testing.T, tweak func(*secrets.Config)) bundle {
	t.Helper()
	srv := awsfake.Start(t)
	b := bundle{srv: srv, sm: awsfake.NewSecretsManager(srv), ps: awsfake.NewSSM(srv), dir: t.TempDir()}
	env := map[string]string{"DB_PASSWORD": marker + "-env", "EMPTY": ""}
	cfg := secrets.Config{
		LookupEnv:      func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		AWSEndpoint:    srv.URL,
		AWSLoadOptions: srv.LoadOptions(),
		MaxAttempts:    3,
		MaxBackoff:     time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	b.resolver = secrets.New(cfg)
	return b
}

func (b bundle) writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolve(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sm.Put(awsfake.Secret{Name: "prod/db", String: `{"user":"app","password":"` + marker + `-pw","port":5432,"tls":true}`})
	b.sm.Put(awsfake.Secret{Name: "prod/db", String: `{"password":"` + marker + `-new"}`})
	b.sm.Put(awsfake.Secret{Name: "plain", String: marker + "-plain"})
	b.sm.Put(awsfake.Secret{Name: "blob", Binary: []byte(marker + "-bin")})
	euARN, _ := b.sm.Put(awsfake.Secret{Name: "eu/db", Region: "eu-west-1", String: marker + "-eu"})
	b.ps.Put(awsfake.Parameter{Name: "/prod/api/key", Value: marker + "-ssm1"})
	b.ps.Put(awsfake.Parameter{Name: "/prod/api/key", Value: marker + "-ssm2"})
	b.ps.Put(awsfake.Parameter{Name: "flat", Type: awsfake.ParameterString, Value: "plain-text"})
	f1 := b.writeFile(t, "one", marker+"-file\n")
	f2 := b.writeFile(t, "crlf", marker+"-crlf\r\n")
	f3 := b.writeFile(t, "two-newlines", marker+"-two\n\n")
	f4 := b.writeFile(t, "max", strings.Repeat("x", 64<<10))

	refs := map[string]string{
		"A_ENV":      "env://DB_PASSWORD",
		"A_EMPTY":    "env://EMPTY",
		"F_ONE":      "file://" + f1,
		"F_CRLF":     "file://" + f2,
		"F_TWO":      "file://" + f3,
		"F_MAX":      "file://" + f4,
		"SM_PW":      "aws-sm://prod/db#password",
		"SM_OLD_PW":  "aws-sm://prod/db?version-stage=AWSPREVIOUS#password",
		"SM_PORT":    "aws-sm://prod/db?version-stage=AWSPREVIOUS#port",
		"SM_TLS":     "aws-sm://prod/db?version-stage=AWSPREVIOUS#tls",
		"SM_PLAIN":   "aws-sm://plain",
		"SM_BIN":     "aws-sm://blob",
		"SM_EU":      "aws-sm://" + euARN,
		"SSM_LATEST": "aws-ssm:///prod/api/key",
		"SSM_V1":     "aws-ssm:///prod/api/key?version=1",
		"SSM_FLAT":   "aws-ssm://flat",
	}
	got, err := b.resolver.Resolve(t.Context(), refs)
	if err != nil {
		t.Fatalf("Resolve() error = %v", err)
	}
	want := map[string]string{
		"A_ENV":      marker + "-env",
		"A_EMPTY":    "",
		"F_ONE":      marker + "-file",
		"F_CRLF":     marker + "-crlf",
		"F_TWO":      marker + "-two\n",
		"F_MAX":      strings.Repeat("x", 64<<10),
		"SM_PW":      marker + "-new",
		"SM_OLD_PW":  marker + "-pw",
		"SM_PORT":    "5432",
		"SM_TLS":     "true",
		"SM_PLAIN":   marker + "-plain",
		"SM_BIN":     marker + "-bin",
		"SM_EU":      marker + "-eu",
		"SSM_LATEST": marker + "-ssm2",
		"SSM_V1":     marker + "-ssm1",
		"SSM_FLAT":   "plain-text",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve() mismatch (-want +got):\n%s", diff)
	}

	// Three references share the AWSPREVIOUS version of prod/db: one call.
	var prodCalls, euCalls int
	for _, c := range b.srv.Calls(awsfake.TargetGetSecretValue) {
		if strings.Contains(string(c.Body), `"prod/db"`) {
			prodCalls++
		}
		if c.Region == "eu-west-1" {
			euCalls++
		}
	}
	if prodCalls != 2 {
		t.Errorf("GetSecretValue calls for prod/db = %d, want 2 (one per version)", prodCalls)
	}
	if euCalls != 1 {
		t.Errorf("calls signed for eu-west-1 = %d, want 1 (the ARN's region)", euCalls)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sm.Put(awsfake.Secret{Name: "prod/db", String: `{"user":"app","password":"` + marker + `"}`})
	b.sm.Put(awsfake.Secret{Name: "not-json", String: marker + "{oops"})
	b.sm.Put(awsfake.Secret{Name: "nested", String: `{"obj":{"a":"` + marker + `"},"nul":null}`})
	b.sm.Put(awsfake.Secret{Name: "nul", String: marker + "\x00x"})
	b.sm.Put(awsfake.Secret{Name: "locked", String: marker})
	b.sm.Deny("locked")
	b.ps.Put(awsfake.Parameter{Name: "/locked", Value: marker})
	b.ps.Deny("/locked")
	b.ps.Put(awsfake.Parameter{Name: "/p", Value: marker})
	big := b.writeFile(t, "big", strings.Repeat("x", 64<<10+1))
	nul := b.writeFile(t, "nul", marker+"\x00")

	tests := []struct {
		name, ref string
		kind      error
		want      string
	}{
		{"bad reference", "vault://x", secrets.ErrInvalid, `invalid secret reference: unknown scheme "vault"`},
		{"env unset", "env://MISSING", secrets.ErrNotFound, "environment variable MISSING of the agent is not set"},
		{"file missing", "file://" + filepath.Join(b.dir, "nope"), secrets.ErrNotFound, "does not exist on the agent's host"},
		{"file is a directory", "file://" + b.dir, secrets.ErrInvalid, "is not a regular file (it is a directory)"},
		{"file too big", "file://" + big, secrets.ErrInvalid, "larger than 64 KiB"},
		{"file with NUL", "file://" + nul, secrets.ErrInvalid, "NUL byte"},
		{"sm not found", "aws-sm://prod/nope", secrets.ErrNotFound, "AWS Secrets Manager: secret prod/nope not found (ResourceNotFoundException)"},
		{"sm stage not found", "aws-sm://prod/db?version-stage=AWSPREVIOUS", secrets.ErrNotFound, "secret prod/db with version-stage AWSPREVIOUS not found"},
		{"sm denied", "aws-sm://locked", secrets.ErrAccessDenied, "the agent may not read secret locked (AccessDeniedException: User: arn:aws:sts"},
		{"sm json key missing", "aws-sm://prod/db#pasword", secrets.ErrNotFound, `has no key "pasword" (it has keys: password, user)`},
		{"sm not json", "aws-sm://not-json#k", secrets.ErrInvalid, `the secret is not a JSON object, so json-key "k" cannot be read`},
		{"sm object field", "aws-sm://nested#obj", secrets.ErrInvalid, "holds an object or array"},
		{"sm null field", "aws-sm://nested#nul", secrets.ErrInvalid, `key "nul" is null`},
		{"sm NUL", "aws-sm://nul", secrets.ErrInvalid, "NUL byte"},
		{"ssm not found", "aws-ssm:///nope", secrets.ErrNotFound, "AWS Systems Manager: parameter /nope not found (ParameterNotFound)"},
		{"ssm version not found", "aws-ssm:///p?version=7", secrets.ErrNotFound, "parameter /p version 7 not found (ParameterVersionNotFound)"},
		{"ssm denied", "aws-ssm:///locked", secrets.ErrAccessDenied, "allow ssm:GetParameter on it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := b.resolver.Resolve(t.Context(), map[string]string{"MY_VAR": tt.ref})
			if err == nil {
				t.Fatalf("Resolve(%s) = %v, want an error", tt.ref, got)
			}
			if got != nil {
				t.Errorf("Resolve(%s) returned values with an error", tt.ref)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Resolve(%s) error = %v, want kind %v", tt.ref, err, tt.kind)
			}
			var se *secrets.Error
			if !errors.As(err, &se) || se.EnvVar != "MY_VAR" || se.Ref != tt.ref {
				t.Errorf("Resolve(%s) error = %#v, want a *secrets.Error for MY_VAR", tt.ref, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "secret MY_VAR ("+tt.ref+"): ") || !strings.Contains(msg, tt.want) {
				t.Errorf("Resolve(%s) error = %q, want it to contain %q", tt.ref, msg, tt.want)
			}
			if strings.Contains(msg, marker) {
				t.Errorf("Resolve(%s) error = %q, holds a secret value", tt.ref, msg)
			}
		})
	}
}

func TestResolveJoinsErrorsInNameOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.resolver.Resolve(t.Context(), map[string]string{
		"B": "env://NOPE_B", "A": "env://NOPE_A", "OK": "env://DB_PASSWORD",
	})
	if err == nil {
		t.Fatal("Resolve() error = nil, want two failures")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "secret A ") || !strings.HasPrefix(lines[1], "secret B ") {
		t.Errorf("Resolve() error = %q, want A's failure then B's", err)
	}
}

func TestResolveRetriesThrottling(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sm.Put(awsfake.Secret{Name: "prod/db", String: marker})
	b.ps.Put(awsfake.Parameter{Name: "/p", Value: marker})
	b.srv.Throttle(awsfake.TargetGetSecretValue, 2)

	got, err := b.resolver.Resolve(t.Context(), map[string]string{"DB": "aws-sm://prod/db"})
	if err != nil {
		t.Fatalf("Resolve() error = %v, want success after retries", err)
	}
	if got["DB"] != marker {
		t.Errorf("DB = %q, want %q", got["DB"], marker)
	}
	if n := len(b.srv.Calls(awsfake.TargetGetSecretValue)); n != 3 {
		t.Errorf("GetSecretValue calls = %d, want 3", n)
	}

	// Throttled on every attempt: the budget of 3 attempts is spent, then
	// the failure is reported as unavailable.
	b.srv.Throttle(awsfake.TargetGetParameter, 10)
	_, err = b.resolver.Resolve(t.Context(), map[string]string{"P": "aws-ssm:///p"})
	if !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), "failed after 3 attempts (ThrottlingException)") {
		t.Errorf("Resolve() error = %v, want unavailable after 3 attempts", err)
	}
	if n := len(b.srv.Calls(awsfake.TargetGetParameter)); n != 3 {
		t.Errorf("GetParameter calls = %d, want 3", n)
	}
}

func TestResolveCallTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *secrets.Config) { c.CallTimeout = 50 * time.Millisecond })
	b.sm.Put(awsfake.Secret{Name: "slow", String: marker})
	b.srv.Inject(awsfake.Fault{Target: awsfake.TargetGetSecretValue, Delay: time.Hour})

	_, err := b.resolver.Resolve(t.Context(), map[string]string{"S": "aws-sm://slow"})
	if !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("Resolve() error = %v, want a timeout", err)
	}
}

func TestResolveCallerCancels(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sm.Put(awsfake.Secret{Name: "slow", String: marker})
	b.srv.Inject(awsfake.Fault{Target: awsfake.TargetGetSecretValue, Delay: time.Hour})

	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		// Cancel once the call is in flight, or after a generous bound.
		deadline := time.Now().Add(10 * time.Second)
		for len(b.srv.Calls(awsfake.TargetGetSecretValue)) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel(errors.New("run cancelled by user"))
	}()
	_, err := b.resolver.Resolve(ctx, map[string]string{"S": "aws-sm://slow"})
	if err == nil || !strings.Contains(err.Error(), "stopped: run cancelled by user") {
		t.Errorf("Resolve() error = %v, want the cancellation cause", err)
	}
}

func TestResolveWithoutRegion(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"} {
		if os.Getenv(k) != "" {
			t.Skipf("%s is set in the test's environment", k)
		}
	}
	t.Parallel()
	b := setup(t, func(c *secrets.Config) {
		c.AWSLoadOptions = []func(*config.LoadOptions) error{
			config.WithSharedConfigFiles([]string{}),
			config.WithSharedCredentialsFiles([]string{}),
			config.WithCredentialsProvider(aws.AnonymousCredentials{}),
		}
	})
	_, err := b.resolver.Resolve(t.Context(), map[string]string{"P": "aws-ssm:///p"})
	if !errors.Is(err, secrets.ErrAgentConfig) || !strings.Contains(err.Error(), "set AWS_REGION") {
		t.Errorf("Resolve() error = %v, want a missing-region error", err)
	}
	if n := len(b.srv.Calls("")); n != 0 {
		t.Errorf("calls = %d, want none", n)
	}
}
