package policystore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	admissionpolicy "github.com/ferryhq/ferry/policy/admission"
	authzpolicy "github.com/ferryhq/ferry/policy/authz"
)

// TestRealBuiltinPolicies composes workspace modules with the built-in
// policies the control plane ships.
func TestRealBuiltinPolicies(t *testing.T) {
	t.Parallel()
	authz, err := BuiltinFromFS(KindAuthz, authzpolicy.FS(), "data.ferry.authz.deny")
	if err != nil {
		t.Fatalf("BuiltinFromFS(authz): %v", err)
	}
	authz.AllowQuery = "data.ferry.authz.allow"
	admission, err := BuiltinFromFS(KindAdmission, admissionpolicy.FS(), "data.ferry.admission.deny")
	if err != nil {
		t.Fatalf("BuiltinFromFS(admission): %v", err)
	}
	frozen := `package ferry.authz.workspace

deny contains "the workspace is frozen" if input.procedure == "/ferry.v1.RunService/CreateRun"
`
	noLatest := `package ferry.admission.workspace

deny contains "images must be pinned by digest" if not contains(input.spec.image, "@sha256:")
`
	subject := `"subject": {"kind": "apikey", "id": "apikey:ab12cd34", "role": "admin", "workspace": "w"}`
	tests := []struct {
		name        string
		kind        Kind
		builtin     Builtin
		module      string
		input       string
		wantAllowed bool
		wantDenials []Denial
	}{
		{
			name: "authz allows without the workspace policy", kind: KindAuthz, builtin: authz,
			input:       `{` + subject + `, "procedure": "/ferry.v1.RunService/CreateRun", "resource": {}}`,
			wantAllowed: true,
		},
		{
			name: "workspace authz policy denies", kind: KindAuthz, builtin: authz, module: frozen,
			input: `{` + subject + `, "procedure": "/ferry.v1.RunService/CreateRun", "resource": {}}`,
			wantDenials: []Denial{{
				Message: "workspace: the workspace is frozen", Workspace: true, Rule: "workspace/p.rego:3",
			}},
		},
		{
			name: "workspace admission policy denies", kind: KindAdmission, builtin: admission, module: noLatest,
			input: `{"workspace": "w", "deployment": "etl", "pool_type": "docker", "spec": {"image": "registry.local/etl:latest"}}`,
			wantDenials: []Denial{{
				Message: "workspace: images must be pinned by digest", Workspace: true, Rule: "workspace/p.rego:3",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mods []Module
			if tt.module != "" {
				mods = []Module{{Name: "p", Source: tt.module}}
			}
			c, err := Compile(tt.kind, tt.builtin, mods)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			d, err := c.Explain(context.Background(), tt.input, false)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if d.Allowed != tt.wantAllowed {
				t.Errorf("Allowed = %v, want %v: %v", d.Allowed, tt.wantAllowed, d.Explanation)
			}
			if diff := cmp.Diff(tt.wantDenials, d.Denials); diff != "" {
				t.Errorf("denials (-want +got):\n%s", diff)
			}
		})
	}
}
