package api

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestCheckSpecSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		secrets map[string]string
		want    string // empty means valid
	}{
		{name: "none"},
		{name: "all schemes", secrets: map[string]string{
			"A": "env://A", "B": "file:///run/secrets/b", "C": "aws-sm://prod/db#password",
			"D": "aws-ssm:///prod/d?version=2",
		}},
		{name: "env beside secrets", env: map[string]string{"MODE": "prod"}, secrets: map[string]string{"DB": "env://DB"}},
		{name: "bad reference", secrets: map[string]string{"DB": "vault://db"},
			want: `spec.secrets["DB"]: invalid secret reference: unknown scheme "vault"`},
		{name: "a value instead of a reference", secrets: map[string]string{"DB": "hunter2"},
			want: `spec.secrets["DB"]: invalid secret reference: not a secret reference`},
		{name: "first bad key in order", secrets: map[string]string{"B": "env://", "A": "file://x"},
			want: `spec.secrets["A"]: invalid secret reference: file:// needs an absolute path`},
		{name: "bad key", secrets: map[string]string{"1X": "env://A"},
			want: `spec.secrets["1X"]: the key is not an environment variable name`},
		{name: "also in env", env: map[string]string{"DB": "x"}, secrets: map[string]string{"DB": "env://DB"},
			want: `spec.secrets["DB"]: DB is also set in spec.env`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := &ferryv1.DeploymentSpec{Command: []string{"true"}, Env: tt.env, Secrets: tt.secrets}
			err := checkSpec(spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkSpec() error = %v, want none", err)
				}
				return
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
				t.Fatalf("checkSpec() error = %v, want InvalidArgument", err)
			}
			if !strings.Contains(ce.Message(), tt.want) {
				t.Errorf("checkSpec() message = %q, want it to contain %q", ce.Message(), tt.want)
			}
		})
	}
}
