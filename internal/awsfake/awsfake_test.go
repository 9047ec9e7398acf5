package awsfake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/awsfake"
)

type bundle struct {
	srv *awsfake.Server
	sm  *awsfake.SecretsManager
	ps  *awsfake.SSM
	smc *secretsmanager.Client
	ssc *ssm.Client
}

func setup(t *testing.T) bundle {
	t.Helper()
	srv := awsfake.Start(t)
	cfg := srv.Config()
	fast := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = time.Millisecond })
	}
	return bundle{
		srv: srv,
		sm:  awsfake.NewSecretsManager(srv),
		ps:  awsfake.NewSSM(srv),
		smc: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Retryer = fast() }),
		ssc: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Retryer = fast() }),
	}
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an AWS API error", err)
	}
	return ae.ErrorCode()
}

func TestGetSecretValue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	arn, v1 := b.sm.Put(awsfake.Secret{Name: "prod/db", String: `{"password":"one"}`})
	_, v2 := b.sm.Put(awsfake.Secret{Name: "prod/db", String: `{"password":"two"}`})
	b.sm.Put(awsfake.Secret{Name: "blob", Binary: []byte{0, 1, 2}})
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-") {
		t.Errorf("ARN = %q", arn)
	}

	tests := []struct {
		name       string
		in         secretsmanager.GetSecretValueInput
		wantString string
		wantBinary []byte
		wantID     string
	}{
		{"by name", secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db")}, `{"password":"two"}`, nil, v2},
		{"by ARN", secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}, `{"password":"two"}`, nil, v2},
		{"previous", secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSPREVIOUS")}, `{"password":"one"}`, nil, v1},
		{"by version", secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionId: aws.String(v1)}, `{"password":"one"}`, nil, v1},
		{"binary", secretsmanager.GetSecretValueInput{SecretId: aws.String("blob")}, "", []byte{0, 1, 2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := b.smc.GetSecretValue(ctx, &tt.in)
			if err != nil {
				t.Fatalf("GetSecretValue() error = %v", err)
			}
			if got := aws.ToString(out.SecretString); got != tt.wantString {
				t.Errorf("SecretString = %q, want %q", got, tt.wantString)
			}
			if diff := cmp.Diff(tt.wantBinary, out.SecretBinary); diff != "" {
				t.Errorf("SecretBinary mismatch (-want +got):\n%s", diff)
			}
			if tt.wantID != "" && aws.ToString(out.VersionId) != tt.wantID {
				t.Errorf("VersionId = %q, want %q", aws.ToString(out.VersionId), tt.wantID)
			}
			if out.CreatedDate == nil || out.CreatedDate.Year() < 2026 {
				t.Errorf("CreatedDate = %v, want a 2026 time", out.CreatedDate)
			}
		})
	}
}

func TestGetSecretValueErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.sm.Put(awsfake.Secret{Name: "prod/db", String: "x"})
	euARN, _ := b.sm.Put(awsfake.Secret{Name: "eu/db", Region: "eu-west-1", String: "x"})
	b.sm.Put(awsfake.Secret{Name: "locked", String: "x"})
	b.sm.Deny("locked")

	tests := []struct {
		name     string
		in       secretsmanager.GetSecretValueInput
		wantCode string
	}{
		{"missing", secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}, "ResourceNotFoundException"},
		{"missing stage", secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSPREVIOUS")}, "ResourceNotFoundException"},
		{"other region", secretsmanager.GetSecretValueInput{SecretId: aws.String(euARN)}, "ResourceNotFoundException"},
		{"denied", secretsmanager.GetSecretValueInput{SecretId: aws.String("locked")}, "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.smc.GetSecretValue(ctx, &tt.in)
			if got := apiCode(t, err); got != tt.wantCode {
				t.Errorf("error code = %q, want %q (error %v)", got, tt.wantCode, err)
			}
		})
	}

	// The same ARN is found when the client is in the secret's region.
	out, err := b.smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(euARN)},
		func(o *secretsmanager.Options) { o.Region = "eu-west-1" })
	if err != nil {
		t.Fatalf("GetSecretValue(%s) in eu-west-1 error = %v", euARN, err)
	}
	if aws.ToString(out.Name) != "eu/db" {
		t.Errorf("Name = %q, want eu/db", aws.ToString(out.Name))
	}
}

func TestGetParameter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.ps.Put(awsfake.Parameter{Name: "/prod/db/password", Value: "v1"})
	b.ps.Put(awsfake.Parameter{Name: "/prod/db/password", Value: "v2"})
	b.ps.Put(awsfake.Parameter{Name: "plain", Type: awsfake.ParameterString, Value: "hello"})
	b.ps.Put(awsfake.Parameter{Name: "/locked", Value: "x"})
	b.ps.Deny("/locked")

	tests := []struct {
		name        string
		in          ssm.GetParameterInput
		wantValue   string
		wantVersion int64
		wantCode    string
	}{
		{name: "latest decrypted", in: ssm.GetParameterInput{Name: aws.String("/prod/db/password"), WithDecryption: aws.Bool(true)}, wantValue: "v2", wantVersion: 2},
		{name: "version 1", in: ssm.GetParameterInput{Name: aws.String("/prod/db/password:1"), WithDecryption: aws.Bool(true)}, wantValue: "v1", wantVersion: 1},
		{name: "plain string", in: ssm.GetParameterInput{Name: aws.String("plain")}, wantValue: "hello", wantVersion: 1},
		{name: "missing", in: ssm.GetParameterInput{Name: aws.String("/nope")}, wantCode: "ParameterNotFound"},
		{name: "missing version", in: ssm.GetParameterInput{Name: aws.String("/prod/db/password:9")}, wantCode: "ParameterVersionNotFound"},
		{name: "denied", in: ssm.GetParameterInput{Name: aws.String("/locked"), WithDecryption: aws.Bool(true)}, wantCode: "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := b.ssc.GetParameter(ctx, &tt.in)
			if tt.wantCode != "" {
				if got := apiCode(t, err); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetParameter() error = %v", err)
			}
			if got := aws.ToString(out.Parameter.Value); got != tt.wantValue {
				t.Errorf("Value = %q, want %q", got, tt.wantValue)
			}
			if out.Parameter.Version != tt.wantVersion {
				t.Errorf("Version = %d, want %d", out.Parameter.Version, tt.wantVersion)
			}
		})
	}

	// A SecureString read without decryption never shows the value.
	out, err := b.ssc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/prod/db/password")})
	if err != nil {
		t.Fatalf("GetParameter() error = %v", err)
	}
	if v := aws.ToString(out.Parameter.Value); v == "v2" || !strings.HasPrefix(v, "AQICAH") {
		t.Errorf("Value without decryption = %q, want ciphertext", v)
	}
}

func TestThrottleIsRetriedBySDK(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ps.Put(awsfake.Parameter{Name: "/p", Value: "v"})
	b.srv.Throttle(awsfake.TargetGetParameter, 2)

	out, err := b.ssc.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/p"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetParameter() error = %v, want success after retries", err)
	}
	if aws.ToString(out.Parameter.Value) != "v" {
		t.Errorf("Value = %q, want v", aws.ToString(out.Parameter.Value))
	}
	if n := len(b.srv.Calls(awsfake.TargetGetParameter)); n != 3 {
		t.Errorf("calls = %d, want 3 (two throttled, one served)", n)
	}

	// Beyond the SDK's attempts the throttling error reaches the caller.
	b.srv.Throttle(awsfake.TargetGetParameter, 5)
	_, err = b.ssc.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/p")})
	if got := apiCode(t, err); got != "ThrottlingException" {
		t.Errorf("error code = %q, want ThrottlingException", got)
	}
}

func TestDelayFaultHonoursClientDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sm.Put(awsfake.Secret{Name: "slow", String: "x"})
	b.srv.Inject(awsfake.Fault{Target: awsfake.TargetGetSecretValue, Delay: time.Hour})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := b.smc.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("slow")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetSecretValue() error = %v, want deadline exceeded", err)
	}

	b.srv.ClearFaults()
	if _, err := b.smc.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("slow")}); err != nil {
		t.Fatalf("GetSecretValue() after ClearFaults error = %v", err)
	}
}

func TestCallsRecordScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sm.Put(awsfake.Secret{Name: "a", String: "x"})
	if _, err := b.smc.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	calls := b.srv.Calls(awsfake.TargetGetSecretValue)
	if len(calls) != 1 {
		t.Fatalf("calls = %d, want 1", len(calls))
	}
	c := calls[0]
	if c.Region != awsfake.Region || c.AccessKeyID != awsfake.AccessKeyID || !strings.Contains(string(c.Body), `"SecretId":"a"`) {
		t.Errorf("call = %+v, body %s", c, c.Body)
	}
}

func TestLoadOptionsReachServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ps.Put(awsfake.Parameter{Name: "/p", Value: "v"})
	cfg, err := config.LoadDefaultConfig(t.Context(), b.srv.LoadOptions()...)
	if err != nil {
		t.Fatalf("LoadDefaultConfig() error = %v", err)
	}
	out, err := ssm.NewFromConfig(cfg).GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String("/p"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetParameter() error = %v", err)
	}
	if aws.ToString(out.Parameter.Value) != "v" {
		t.Errorf("Value = %q, want v", aws.ToString(out.Parameter.Value))
	}
}

func TestRejectsMalformedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const goodAuth = "AWS4-HMAC-SHA256 Credential=" + awsfake.AccessKeyID + "/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00"
	tests := []struct {
		name, method, target, contentType, auth, body string
		wantStatus                                    int
		wantType                                      string
	}{
		{"GET", http.MethodGet, awsfake.TargetGetParameter, "application/x-amz-json-1.1", goodAuth, "{}", http.StatusMethodNotAllowed, "UnknownOperationException"},
		{"unknown target", http.MethodPost, "AmazonSSM.DeleteParameter", "application/x-amz-json-1.1", goodAuth, "{}", http.StatusBadRequest, "UnknownOperationException"},
		{"wrong content type", http.MethodPost, awsfake.TargetGetParameter, "application/json", goodAuth, "{}", http.StatusBadRequest, "SerializationException"},
		{"no auth", http.MethodPost, awsfake.TargetGetParameter, "application/x-amz-json-1.1", "", "{}", http.StatusForbidden, "MissingAuthenticationTokenException"},
		{"unknown key", http.MethodPost, awsfake.TargetGetParameter, "application/x-amz-json-1.1", strings.Replace(goodAuth, awsfake.AccessKeyID, "AKIDOTHER", 1), "{}", http.StatusForbidden, "UnrecognizedClientException"},
		{"wrong service", http.MethodPost, awsfake.TargetGetParameter, "application/x-amz-json-1.1", strings.Replace(goodAuth, "/ssm/", "/kms/", 1), "{}", http.StatusForbidden, "InvalidSignatureException"},
		{"bad body", http.MethodPost, awsfake.TargetGetParameter, "application/x-amz-json-1.1", goodAuth, "{", http.StatusBadRequest, "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, b.srv.URL, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("X-Amz-Date", "20260101T000000Z")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), `"__type":"`+tt.wantType+`"`) {
				t.Errorf("response %d %s, want %d with __type %s", resp.StatusCode, body, tt.wantStatus, tt.wantType)
			}
		})
	}
}
