package secretref_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/secretref"
)

const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want secretref.Ref
	}{
		{"env://DB_PASSWORD", secretref.Ref{Scheme: secretref.SchemeEnv, Name: "DB_PASSWORD"}},
		{"env://_x9", secretref.Ref{Scheme: secretref.SchemeEnv, Name: "_x9"}},
		{"file:///run/secrets/db", secretref.Ref{Scheme: secretref.SchemeFile, Name: "/run/secrets/db"}},
		{"file:///etc/ferry/token.txt", secretref.Ref{Scheme: secretref.SchemeFile, Name: "/etc/ferry/token.txt"}},
		{"file:///a/..b/c..", secretref.Ref{Scheme: secretref.SchemeFile, Name: "/a/..b/c.."}},
		{"aws-sm://prod/db", secretref.Ref{Scheme: secretref.SchemeAWSSecretsManager, Name: "prod/db"}},
		{"aws-sm://prod/db#password", secretref.Ref{Scheme: secretref.SchemeAWSSecretsManager, Name: "prod/db", JSONKey: "password"}},
		{"aws-sm://a+b=c.d@e-f_g#key?with=odd", secretref.Ref{Scheme: secretref.SchemeAWSSecretsManager, Name: "a+b=c.d@e-f_g", JSONKey: "key?with=odd"}},
		{"aws-sm://prod/db?version-stage=AWSPREVIOUS#password", secretref.Ref{
			Scheme: secretref.SchemeAWSSecretsManager, Name: "prod/db", VersionStage: "AWSPREVIOUS", JSONKey: "password",
		}},
		{"aws-sm://prod/db?version-id=EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE", secretref.Ref{
			Scheme: secretref.SchemeAWSSecretsManager, Name: "prod/db", VersionID: "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
		}},
		{"aws-sm://" + arn + "#user", secretref.Ref{Scheme: secretref.SchemeAWSSecretsManager, Name: arn, JSONKey: "user"}},
		{"aws-sm://arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x", secretref.Ref{
			Scheme: secretref.SchemeAWSSecretsManager, Name: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x",
		}},
		{"aws-ssm:///parameter/name", secretref.Ref{Scheme: secretref.SchemeAWSSSM, Name: "/parameter/name"}},
		{"aws-ssm:///prod/db.password-1_x?version=12", secretref.Ref{Scheme: secretref.SchemeAWSSSM, Name: "/prod/db.password-1_x", Version: 12}},
		{"aws-ssm://flat", secretref.Ref{Scheme: secretref.SchemeAWSSSM, Name: "flat"}},
		{"aws-ssm:///aws/service/global-infrastructure/version", secretref.Ref{Scheme: secretref.SchemeAWSSSM, Name: "/aws/service/global-infrastructure/version"}},
		{"aws-ssm:///" + strings.Repeat("a/", 14) + "a", secretref.Ref{Scheme: secretref.SchemeAWSSSM, Name: "/" + strings.Repeat("a/", 14) + "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := secretref.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"too long", "file:///" + strings.Repeat("a", secretref.MaxLen), "longer than the limit of 1024"},
		{"invalid utf8", "env://A\xff", "not valid UTF-8"},
		{"space", "env://A B", "whitespace or a control character at byte 7"},
		{"tab", "file:///a\tb", "whitespace or a control character"},
		{"newline", "aws-sm://x#a\n", "whitespace or a control character"},
		{"nbsp", "env://A\u00a0", "whitespace"},
		{"a pasted value", "hunter2", "not a secret reference: it must start with env://"},
		{"unknown scheme", "vault://kv/db", `unknown scheme "vault"`},
		{"upper-case scheme", "ENV://A", `unknown scheme "ENV"`},
		{"value with colon-slashes", "p@ss w0rd://x", "whitespace"},
		{"odd scheme not quoted", "p@ss://x", "not a secret reference"},
		{"env empty", "env://", "needs a variable name"},
		{"env digit first", "env://1A", "must match [A-Za-z_][A-Za-z0-9_]*"},
		{"env dash", "env://A-B", "byte 1 of the name is '-'"},
		{"env query", "env://A?x", "without '?' or '#'"},
		{"env too long", "env://" + strings.Repeat("A", 256), "longer than the limit of 255"},
		{"file relative", "file://etc/passwd", "absolute path"},
		{"file root", "file:///", "root directory"},
		{"file dir", "file:///etc/", "names a directory"},
		{"file dotdot", "file:///run/../etc/shadow", `".." segment`},
		{"file dot", "file:///run/./x", `"." segment`},
		{"file double slash", "file:///run//x", "empty segment"},
		{"file percent", "file:///run/a%20b", "percent-encoding"},
		{"file query", "file:///run/a?b", "'?'"},
		{"sm empty", "aws-sm://", "needs a secret name or ARN"},
		{"sm empty key", "aws-sm://x#", "json-key after '#' is empty"},
		{"sm bad name", "aws-sm://prod:db", "byte 13 is ':'"},
		{"sm name too long", "aws-sm://" + strings.Repeat("n", 513), "longer than AWS's limit of 512"},
		{"sm unknown param", "aws-sm://x?stage=AWSCURRENT", "version-stage or version-id"},
		{"sm two params", "aws-sm://x?version-stage=A&version-id=" + strings.Repeat("a", 32), "version-stage may hold only"},
		{"sm empty stage", "aws-sm://x?version-stage=", "version-stage must be 1 to 256"},
		{"sm short version id", "aws-sm://x?version-id=abc", "version-id must be 32 to 64"},
		{"sm key with percent", "aws-sm://x#a%20b", "must not hold '#' or '%'"},
		{"sm key too long", "aws-sm://x#" + strings.Repeat("k", 257), "longer than the limit of 256"},
		{"arn short", "aws-sm://arn:aws:secretsmanager:us-east-1", "ARN must have the form"},
		{"arn service", "aws-sm://arn:aws:ssm:us-east-1:123456789012:secret:x", "secretsmanager service"},
		{"arn region", "aws-sm://arn:aws:secretsmanager:US_EAST:123456789012:secret:x", "region"},
		{"arn account", "aws-sm://arn:aws:secretsmanager:us-east-1:1234:secret:x", "12 digits"},
		{"arn kind", "aws-sm://arn:aws:secretsmanager:us-east-1:123456789012:key:x", "secret:"},
		{"arn no name", "aws-sm://arn:aws:secretsmanager:us-east-1:123456789012:secret:", "no secret name"},
		{"arn partition", "aws-sm://arn:AWS:secretsmanager:us-east-1:123456789012:secret:x", "partition"},
		{"ssm empty", "aws-ssm://", "needs a parameter name"},
		{"ssm slash only", "aws-ssm:///", "needs a parameter name"},
		{"ssm no leading slash", "aws-ssm://prod/db", "must start with '/'"},
		{"ssm trailing slash", "aws-ssm:///prod/", "empty level"},
		{"ssm bad byte", "aws-ssm:///prod/db:1", "byte 18 is ':'"},
		{"ssm too deep", "aws-ssm:///" + strings.Repeat("a/", 15) + "a", "16 levels"},
		{"ssm too long", "aws-ssm:///" + strings.Repeat("a", 1011), "longer than AWS's limit of 1011"},
		{"ssm fragment", "aws-ssm:///a#b", "takes no '#'"},
		{"ssm zero version", "aws-ssm:///a?version=0", "whole number from 1"},
		{"ssm leading zero", "aws-ssm:///a?version=01", "without leading zeros"},
		{"ssm negative", "aws-ssm:///a?version=-1", "whole number from 1"},
		{"ssm overflow", "aws-ssm:///a?version=99999999999999999999", "whole number from 1"},
		{"ssm other param", "aws-ssm:///a?label=prod", "one query parameter, version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ref, err := secretref.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, ref)
			}
			var pe *secretref.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T, want *secretref.Error", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestParseErrorsDoNotEchoInput checks that a value pasted where a reference
// belongs is not repeated in the error, which may be shown or logged.
func TestParseErrorsDoNotEchoInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"s3cr3t-Value!",
		"postgres://user:s3cr3tValue@db/app",
		"Bearer:s3cr3tValue",
		"aws-ssm://s3cr3tValue/x",
	} {
		_, err := secretref.Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error", in)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Parse(%q) error = %q, repeats the input", in, err)
		}
	}
}

// FuzzParse checks that Parse never panics and that an accepted reference is
// canonical: String gives back the input, and parsing it again gives the
// same Ref.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"env://A", "file:///a/b", "aws-sm://x#k", "aws-sm://x?version-stage=AWSCURRENT",
		"aws-ssm:///a/b?version=2", "aws-ssm://a", "aws-sm://" + arn, "", "env://", "x://y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := secretref.Parse(s)
		if err != nil {
			return
		}
		out := ref.String()
		if out != s {
			t.Fatalf("Parse(%q).String() = %q, want the input back", s, out)
		}
		again, err := secretref.Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) error = %v after Parse(%q) succeeded", out, err, s)
		}
		if again != ref {
			t.Fatalf("Parse(%q) = %+v, want %+v", out, again, ref)
		}
	})
}
