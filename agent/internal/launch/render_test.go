package launch_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func TestRenderArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		params  string
		want    []string
		wantErr string
	}{
		{
			name: "no placeholders and no parameters",
			args: []string{"echo", "a}}b", "{ .x }"},
			want: []string{"echo", "a}}b", "{ .x }"},
		},
		{
			name:   "large integer stays exact",
			args:   []string{"--n={{ .n }}"},
			params: `{"n": 9007199254740993}`,
			want:   []string{"--n=9007199254740993"},
		},
		{
			name:   "numbers as written",
			args:   []string{"{{.a}}", "{{.b}}", "{{.c}}", "{{.d}}"},
			params: `{"a": 1.50, "b": 1e3, "c": -0, "d": 123456789012345678901234567890}`,
			want:   []string{"1.50", "1e3", "-0", "123456789012345678901234567890"},
		},
		{
			name:   "strings raw",
			args:   []string{"{{ .s }}", "{{ .u }}", "{{ .e }}"},
			params: `{"s": "it's \"quoted\" and spaced", "u": "caf\u00e9 😀", "e": ""}`,
			want:   []string{`it's "quoted" and spaced`, "café 😀", ""},
		},
		{
			name:   "booleans and null",
			args:   []string{"{{ .t }}", "{{ .f }}", "{{ .z }}"},
			params: `{"t": true, "f": false, "z": null}`,
			want:   []string{"true", "false", "null"},
		},
		{
			name:   "objects and arrays compact in original order",
			args:   []string{"{{ .o }}", "{{ .a }}"},
			params: "{\"o\": {\"b\": 1, \"a\": {\"<x>\": \"&\"}},\n \"a\": [ 1, \"two\", [ ] ]}",
			want:   []string{`{"b":1,"a":{"<x>":"&"}}`, `[1,"two",[]]`},
		},
		{
			name:   "several placeholders in one argument",
			args:   []string{"{{.a}}-{{ .b }}-{{.a}}", "x{{ .b }}y"},
			params: `{"a": "A", "b": 2}`,
			want:   []string{"A-2-A", "x2y"},
		},
		{
			name:   "spaces and tabs around the name",
			args:   []string{"{{   .a\t}}"},
			params: `{"a": 1}`,
			want:   []string{"1"},
		},
		{
			name:   "names with underscores digits and letters",
			args:   []string{"{{ ._x }}", "{{ .max_2 }}", "{{ .größe }}"},
			params: `{"_x": 1, "max_2": 2, "größe": 3}`,
			want:   []string{"1", "2", "3"},
		},
		{
			name:   "values are not expanded again",
			args:   []string{"{{ .a }}"},
			params: `{"a": "{{ .b }}", "b": "no"}`,
			want:   []string{"{{ .b }}"},
		},
		{
			name:   "closing braces after a placeholder stay",
			args:   []string{"{{ .a }}}}"},
			params: `{"a": 1}`,
			want:   []string{"1}}"},
		},
		{
			name:   "whitespace-only parameters mean none",
			args:   []string{"ls"},
			params: " \n",
			want:   []string{"ls"},
		},
		{name: "missing parameter", args: []string{"run", "--x={{ .missing }}"}, params: `{"a": 1}`, wantErr: `command[1]: parameter "missing" is not set`},
		{name: "missing parameter without parameters", args: []string{"{{ .a }}"}, wantErr: `parameter "a" is not set`},
		{name: "pipeline", args: []string{"{{ .a | printf }}"}, params: `{"a": 1}`, wantErr: `unsupported action "{{ .a | printf }}"`},
		{name: "function call", args: []string{`{{ printf "%d" .a }}`}, params: `{"a": 1}`, wantErr: "unsupported action"},
		{name: "dot alone", args: []string{"{{ . }}"}, wantErr: "unsupported action"},
		{name: "nested field", args: []string{"{{ .a.b }}"}, params: `{"a": {"b": 1}}`, wantErr: "unsupported action"},
		{name: "trim marker", args: []string{"{{- .a }}"}, params: `{"a": 1}`, wantErr: "unsupported action"},
		{name: "name starting with a digit", args: []string{"{{ .1a }}"}, wantErr: "unsupported action"},
		{name: "variable", args: []string{"{{ $x }}"}, wantErr: "unsupported action"},
		{name: "comment", args: []string{"{{/* c */}}"}, wantErr: "unsupported action"},
		{name: "range", args: []string{"{{ range .a }}"}, params: `{"a": [1]}`, wantErr: "unsupported action"},
		{name: "three braces", args: []string{"{{{ .a }}"}, params: `{"a": 1}`, wantErr: "unsupported action"},
		{name: "unclosed", args: []string{"ok", "{{ .a"}, params: `{"a": 1}`, wantErr: `command[1]: unclosed action "{{ .a"`},
		{name: "invalid JSON", args: []string{"x"}, params: `{"a": }`, wantErr: "parameters: invalid character"},
		{name: "JSON array", args: []string{"x"}, params: `[1]`, wantErr: "parameters: not a JSON object"},
		{name: "JSON null", args: []string{"x"}, params: `null`, wantErr: "parameters: not a JSON object"},
		{name: "data after the object", args: []string{"x"}, params: `{"a": 1} {}`, wantErr: "unexpected data after the JSON object"},
		{name: "NUL in a value", args: []string{"{{ .a }}"}, params: `{"a": "x\u0000y"}`, wantErr: "command[0]: contains a NUL byte"},
		{name: "NUL in an argument", args: []string{"a\x00b"}, wantErr: "command[0]: contains a NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := launch.RenderArgs(tt.args, tt.params)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RenderArgs() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderArgs() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RenderArgs() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderArgsDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	args := []string{"{{ .a }}"}
	if _, err := launch.RenderArgs(args, `{"a": "b"}`); err != nil {
		t.Fatalf("RenderArgs() error = %v", err)
	}
	if args[0] != "{{ .a }}" {
		t.Errorf("input changed to %q", args[0])
	}
}
