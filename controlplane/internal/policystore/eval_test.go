package policystore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	tracing := `package ferry.authz.workspace

deny contains msg if {
	trace("checking the day")
	input.day == "friday"
	msg := "no writes on Friday"
}
`
	tests := []struct {
		name      string
		workspace []Module
		input     string
		want      Decision
	}{
		{
			name:  "built-in allows",
			input: `{"role": "admin", "action": "write"}`,
			want:  Decision{Allowed: true, Explanation: []string{"allowed: no rule denied"}},
		},
		{
			name:  "built-in denies",
			input: `{"role": "viewer", "action": "write"}`,
			want: Decision{
				Denials: []Denial{{Message: "role viewer may not write", Rule: "builtin/authz/authz.rego:5"}},
				Explanation: []string{
					"denied by 1 rule(s):",
					"  built-in builtin/authz/authz.rego:5: role viewer may not write",
				},
			},
		},
		{
			name:      "workspace policy adds a denial",
			workspace: []Module{{Name: "friday", Source: fridayPolicy}},
			input:     `{"role": "admin", "action": "write", "day": "friday"}`,
			want: Decision{
				Denials: []Denial{{Message: "no writes on Friday", Workspace: true, Rule: "workspace/friday.rego:3"}},
				Explanation: []string{
					"denied by 1 rule(s):",
					"  workspace workspace/friday.rego:3: no writes on Friday",
				},
			},
		},
		{
			name:      "workspace policy cannot lift a built-in denial",
			workspace: []Module{{Name: "friday", Source: fridayPolicy}},
			input:     `{"role": "viewer", "action": "write", "day": "friday"}`,
			want: Decision{
				Denials: []Denial{
					{Message: "no writes on Friday", Workspace: true, Rule: "workspace/friday.rego:3"},
					{Message: "role viewer may not write", Rule: "builtin/authz/authz.rego:5"},
				},
				Explanation: []string{
					"denied by 2 rule(s):",
					"  workspace workspace/friday.rego:3: no writes on Friday",
					"  built-in builtin/authz/authz.rego:5: role viewer may not write",
				},
			},
		},
		{
			name:      "notes",
			workspace: []Module{{Name: "trace", Source: tracing}},
			input:     `{"role": "admin", "action": "read", "day": "friday"}`,
			want: Decision{
				Denials: []Denial{{Message: "no writes on Friday", Workspace: true, Rule: "workspace/trace.rego:3"}},
				Explanation: []string{
					"denied by 1 rule(s):",
					"  workspace workspace/trace.rego:3: no writes on Friday",
					"notes:",
					"  workspace/trace.rego:4: checking the day",
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(KindAuthz, stubBuiltin, tt.workspace)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := c.Explain(context.Background(), tt.input, false)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainFullTraceIsBounded(t *testing.T) {
	t.Parallel()
	// A rule that iterates produces a trace far longer than the bound.
	loop := `package ferry.authz.workspace

deny contains msg if {
	some i in numbers.range(1, 500)
	i == 1000
	msg := "never"
}
`
	c, err := Compile(KindAuthz, stubBuiltin, []Module{{Name: "loop", Source: loop}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	d, err := c.Explain(context.Background(), `{"role": "admin", "action": "read"}`, true)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if !d.Allowed {
		t.Errorf("Allowed = false, want true")
	}
	if len(d.Explanation) != maxExplanationLines {
		t.Fatalf("explanation has %d lines, want %d", len(d.Explanation), maxExplanationLines)
	}
	if d.Explanation[1] != "trace:" || !strings.HasSuffix(d.Explanation[2], "Enter data.ferry.authz.deny = _") {
		t.Errorf("explanation does not hold the trace:\n%s", strings.Join(d.Explanation[:10], "\n"))
	}
	if last := d.Explanation[len(d.Explanation)-1]; !strings.HasSuffix(last, "more lines not shown") {
		t.Errorf("last line %q does not say the explanation was cut", last)
	}
	for _, l := range d.Explanation {
		if len(l) > maxLineBytes+len(" …") {
			t.Errorf("line of %d bytes exceeds the bound", len(l))
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	t.Run("type error in a workspace module", func(t *testing.T) {
		t.Parallel()
		src := "package ferry.authz.workspace\n\ndeny contains msg if {\n\tmsg := concat(1, 2)\n}\n"
		_, err := Compile(KindAuthz, stubBuiltin, []Module{{Name: "typo", Source: src}})
		var ce *CompileError
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("Compile: got %v, want a *CompileError", err)
		}
		p := ce.Problems[0]
		if p.File != "workspace/typo.rego" || p.Line != 4 || p.Code != "rego_type_error" {
			t.Errorf("problem %v, want a rego_type_error at workspace/typo.rego:4", p)
		}
	})
	t.Run("modules that conflict", func(t *testing.T) {
		t.Parallel()
		a := "package ferry.authz.workspace\n\nlimit := 1\n"
		b := "package ferry.authz.workspace\n\nlimit(x) := x\n"
		_, err := Compile(KindAuthz, stubBuiltin, []Module{{Name: "a", Source: a}, {Name: "b", Source: b}})
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Fatalf("Compile: got %v, want a *CompileError", err)
		}
		if !strings.Contains(ce.Error(), "conflicting rules data.ferry.authz.workspace.limit") {
			t.Errorf("error %q does not name the conflict", ce.Error())
		}
	})
	t.Run("input that is not an object", func(t *testing.T) {
		t.Parallel()
		c, err := Compile(KindAuthz, stubBuiltin, nil)
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		if _, err := c.Explain(context.Background(), `[1]`, false); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Explain: got %v, want ErrInvalidInput", err)
		}
	})
}

func TestExplainPrefixedAndDefaultDeny(t *testing.T) {
	t.Parallel()
	// This built-in policy denies by default, as the real authorization
	// policy does, and prefixes workspace denials.
	b := Builtin{
		Modules: []Module{{Name: "builtin/authz/authz.rego", Source: `package ferry.authz

deny contains sprintf("workspace: %s", [msg]) if {
	some msg in data.ferry.authz.workspace.deny
}

default allow := false

allow if {
	count(deny) == 0
	input.role == "admin"
}
`}},
		DenyQuery:  "data.ferry.authz.deny",
		AllowQuery: "data.ferry.authz.allow",
	}
	c, err := Compile(KindAuthz, b, []Module{{Name: "friday", Source: fridayPolicy}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	tests := []struct {
		name  string
		input string
		want  Decision
	}{
		{
			name:  "prefixed workspace denial",
			input: `{"role": "admin", "action": "write", "day": "friday"}`,
			want: Decision{
				Denials: []Denial{{Message: "workspace: no writes on Friday", Workspace: true, Rule: "workspace/friday.rego:3"}},
				Explanation: []string{
					"denied by 1 rule(s):",
					"  workspace workspace/friday.rego:3: workspace: no writes on Friday",
				},
			},
		},
		{
			name:  "nothing allowed",
			input: `{"role": "viewer", "action": "read"}`,
			want: Decision{
				Denials: []Denial{{Message: "no rule allowed the call (data.ferry.authz.allow is not true)"}},
				Explanation: []string{
					"denied by 1 rule(s):",
					"  built-in (rule not traced): no rule allowed the call (data.ferry.authz.allow is not true)",
				},
			},
		},
		{
			name:  "allowed",
			input: `{"role": "admin", "action": "read"}`,
			want:  Decision{Allowed: true, Explanation: []string{"allowed: no rule denied"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Explain(context.Background(), tt.input, false)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}
