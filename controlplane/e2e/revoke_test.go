package e2e

import (
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// TestRevokeAgentTokenClosesStream revokes the token an agent is connected
// with: its stream ends Unauthenticated well before any keepalive or lease
// would notice, and its next unary call and its next subscription are
// refused as Unauthenticated. An agent of another token of the same pool
// keeps its stream.
func TestRevokeAgentTokenClosesStream(t *testing.T) {
	p := startPlane(t)
	token := p.setupDeployment(t, "revoked")
	other, err := p.tokens.CreateAgentToken(callCtx(t), connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "local", Name: "survivor"}))
	if err != nil {
		t.Fatalf("create second token: %v", err)
	}
	agent := p.connectAgent(t, token, "doomed", 2)
	survivor := p.connectAgent(t, other.Msg.GetSecret(), "survivor", 2)

	list, err := p.tokens.ListAgentTokens(callCtx(t), connect.NewRequest(&ferryv1.ListAgentTokensRequest{Pool: "local"}))
	if err != nil {
		t.Fatalf("list agent tokens: %v", err)
	}
	var id string
	for _, tok := range list.Msg.GetTokens() {
		if tok.GetName() != "survivor" {
			id = tok.GetId()
		}
	}
	if id == "" {
		t.Fatal("the connected agent's token is not listed")
	}
	if _, err := p.tokens.RevokeAgentToken(callCtx(t), connect.NewRequest(&ferryv1.RevokeAgentTokenRequest{Id: id})); err != nil {
		t.Fatalf("revoke agent token: %v", err)
	}

	// The bound is far below waitTimeout: the notification round trip is
	// milliseconds, and nothing else (keepalive, lease) would end the
	// stream within it on the fake clock.
	const streamBound = 5 * time.Second
	select {
	case err := <-agent.ended:
		if code, cerr := errCode(err); cerr != nil || code != connect.CodeUnauthenticated {
			t.Errorf("stream ended with %v, want Unauthenticated", err)
		}
	case <-time.After(streamBound):
		t.Fatalf("the stream of the revoked token was still open %v after the revocation", streamBound)
	}

	_, err = agent.client.Heartbeat(callCtx(t), connect.NewRequest(&ferryv1.HeartbeatRequest{SessionId: agent.session()}))
	if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
		t.Errorf("heartbeat after revocation: %v, want Unauthenticated", err)
	}
	stream, err := agent.client.Subscribe(callCtx(t), connect.NewRequest(&ferryv1.SubscribeRequest{Name: "doomed", Capacity: 2, Version: "e2e"}))
	if err == nil {
		for stream.Receive() {
			t.Errorf("a revoked token subscribed again and received %v", stream.Msg())
		}
		err = stream.Err()
		stream.Close()
	}
	if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
		t.Errorf("subscribe after revocation: %v, want Unauthenticated", err)
	}

	survivor.heartbeat(t)
	select {
	case err := <-survivor.ended:
		t.Fatalf("the stream of another token ended: %v", err)
	default:
	}
}
