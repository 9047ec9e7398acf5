package policystore

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stubBuiltin is a small built-in authorization policy in the shape the
// composition rules ask for: it denies by role and adds the workspace
// denials.
var stubBuiltin = Builtin{
	Modules: []Module{{Name: "builtin/authz/authz.rego", Source: `package ferry.authz

roles := {"viewer": {"read"}, "admin": {"read", "write"}}

deny contains msg if {
	not input.action in roles[input.role]
	msg := sprintf("role %s may not %s", [input.role, input.action])
}

deny contains msg if {
	some msg in data.ferry.authz.workspace.deny
}
`}},
	DenyQuery: "data.ferry.authz.deny",
}

func stubBuiltinFunc(kind Kind) (Builtin, error) {
	if kind != KindAuthz {
		return Builtin{
			Modules: []Module{{Name: "builtin/admission/admission.rego", Source: `package ferry.admission

deny contains msg if {
	some msg in data.ferry.admission.workspace.deny
}
`}},
			DenyQuery: "data.ferry.admission.deny",
		}, nil
	}
	return stubBuiltin, nil
}

const fridayPolicy = `package ferry.authz.workspace

deny contains "no writes on Friday" if {
	input.action == "write"
	input.day == "friday"
}
`

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   Kind
		source string
		// want are the problems, rendered.
		want []string
	}{
		{
			name:   "syntax error",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\ndeny contains msg if {\n  msg := 1 +\n}\n",
			want:   []string{"workspace/p.rego:5:1: rego_parse_error: unexpected } token"},
		},
		{
			name:   "rego v0 syntax",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\ndeny[msg] { msg := \"x\" }\n",
			want: []string{
				"workspace/p.rego:3:1: rego_parse_error: `if` keyword is required before rule body",
				"workspace/p.rego:3:1: rego_parse_error: `contains` keyword is required for partial set rules",
			},
		},
		{
			name:   "wrong package",
			kind:   KindAdmission,
			source: "package ferry.authz.workspace\n",
			want: []string{"workspace/p.rego:1:1: ferry_policy_error: a admission policy must declare package " +
				"ferry.admission.workspace, not ferry.authz.workspace"},
		},
		{
			name:   "http.send",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\ndeny contains msg if {\n\tr := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:1\"})\n\tmsg := r.body\n}\n",
			want:   []string{"workspace/p.rego:4:7: ferry_policy_error: http.send may not be called from a workspace policy"},
		},
		{
			name:   "net lookup as a statement",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\ndeny contains \"x\" if {\n\tnet.lookup_ip_addr(\"example.com\", addrs)\n\tcount(addrs) > 0\n}\n",
			want:   []string{"workspace/p.rego:4:2: ferry_policy_error: net.lookup_ip_addr may not be called from a workspace policy"},
		},
		{
			name:   "opa.runtime",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\nenv := opa.runtime().env\n",
			want:   []string{"workspace/p.rego:3:8: ferry_policy_error: opa.runtime may not be called from a workspace policy"},
		},
		{
			name:   "import outside data.ferry",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\nimport data.system.secrets\n",
			want: []string{"workspace/p.rego:3:1: ferry_policy_error: import data.system.secrets is not allowed: " +
				"import only from data.ferry, input or rego.v1"},
		},
		{
			name:   "reference to data outside data.ferry",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\nleak := data.other\nall := data\n",
			want: []string{
				"workspace/p.rego:3:9: ferry_policy_error: reference data.other is not allowed: read only data.ferry and input",
				"workspace/p.rego:4:8: ferry_policy_error: reference data is not allowed: read only data.ferry and input",
			},
		},
		{
			name:   "deny that is not a set",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n\ndeny := \"no\"\n",
			want:   []string{"workspace/p.rego:3:1: ferry_policy_error: deny must be a set of messages: write deny contains msg if { ... }"},
		},
		{
			name:   "too large",
			kind:   KindAuthz,
			source: "package ferry.authz.workspace\n#" + strings.Repeat("x", MaxSourceBytes),
			want:   []string{"workspace/p.rego: ferry_policy_error: the source is 65567 bytes; the limit is 65536"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Check(tt.kind, "p", tt.source)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Check: got %v, want a *CompileError", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source string
	}{
		{name: "deny set", source: fridayPolicy},
		{name: "imports and time", source: `package ferry.authz.workspace

import rego.v1
import input.subject
import data.ferry.authz.roles

deny contains "too late" if {
	time.now_ns() < 0
	subject.role in object.keys(roles)
}
`},
		{name: "helpers and cidr", source: `package ferry.authz.workspace

internal(addr) if net.cidr_contains("10.0.0.0/8", addr)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Check(KindAuthz, "p", tt.source); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}
