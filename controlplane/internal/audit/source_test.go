package audit

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

func TestSource(t *testing.T) {
	t.Parallel()
	trusted, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"})
	if err != nil {
		t.Fatalf("ParseProxies: %v", err)
	}
	tests := []struct {
		name      string
		proxies   proxies
		peer      string
		forwarded []string
		want      string
	}{
		{name: "no proxies: header ignored", peer: "198.51.100.1:4000", forwarded: []string{"203.0.113.9"}, want: "198.51.100.1"},
		{name: "untrusted peer: header ignored", proxies: trusted, peer: "198.51.100.1:4000", forwarded: []string{"203.0.113.9"}, want: "198.51.100.1"},
		{name: "trusted peer", proxies: trusted, peer: "10.1.2.3:4000", forwarded: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "forged left entries skipped", proxies: trusted, peer: "10.1.2.3:4000", forwarded: []string{"1.1.1.1, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", proxies: trusted, peer: "10.1.2.3:4000", forwarded: []string{"203.0.113.9, 192.0.2.7", "10.9.9.9"}, want: "203.0.113.9"},
		{name: "garbage stops at the last trusted hop", proxies: trusted, peer: "10.1.2.3:4000", forwarded: []string{"203.0.113.9, nonsense, 10.9.9.9"}, want: "10.9.9.9"},
		{name: "trusted peer without header", proxies: trusted, peer: "10.1.2.3:4000", want: "10.1.2.3"},
		{name: "IPv6 peer", proxies: trusted, peer: "[fd00::1]:4000", forwarded: []string{"2001:db8::5"}, want: "2001:db8::5"},
		{name: "IPv4-mapped peer", peer: "[::ffff:198.51.100.1]:4000", want: "198.51.100.1"},
		{name: "unparsable peer kept", peer: "pipe", want: "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.proxies.source(tt.peer, tt.forwarded); got != tt.want {
				t.Errorf("source(%q, %q) = %q, want %q", tt.peer, tt.forwarded, got, tt.want)
			}
		})
	}
}

func TestParseProxiesRejects(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "10.0.0.0/33", "proxy.example.com"} {
		if _, err := ParseProxies([]string{v}); err == nil {
			t.Errorf("ParseProxies(%q) succeeded, want an error", v)
		}
	}
}

func TestMutating(t *testing.T) {
	t.Parallel()
	tests := []struct {
		procedure string
		want      bool
	}{
		{ferryv1connect.WorkPoolServiceApplyWorkPoolProcedure, true},
		{ferryv1connect.WorkPoolServiceListWorkPoolsProcedure, false},
		{ferryv1connect.AuditServiceListAuditEventsProcedure, false},
		{ferryv1connect.AgentServiceHeartbeatProcedure, true},
	}
	for _, tt := range tests {
		spec := specOf(t, tt.procedure)
		if got := Mutating(spec); got != tt.want {
			t.Errorf("Mutating(%s) = %v, want %v", tt.procedure, got, tt.want)
		}
	}
	if !Mutating(connect.Spec{Procedure: "/unknown.v1.X/Y"}) {
		t.Error("a procedure without a descriptor or idempotency level must count as mutating")
	}
}

// specOf returns the handler spec of a generated procedure, with its
// method descriptor as the generated handlers set it.
func specOf(t *testing.T, procedure string) connect.Spec {
	t.Helper()
	name := strings.Replace(strings.TrimPrefix(procedure, "/"), "/", ".", 1)
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return connect.Spec{Procedure: procedure, Schema: d}
}
