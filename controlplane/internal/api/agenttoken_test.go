package api

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestAgentTokens(t *testing.T) {
	t.Parallel()
	e := setupPoolEnv(t)
	ctx := context.Background()
	e.applyPool(t, "etl", poolTestProcess)
	t0 := e.clock.Now()

	created, err := e.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "etl", Name: "rack-1"}))
	if err != nil {
		t.Fatalf("CreateAgentToken: %v", err)
	}
	secret := created.Msg.GetSecret()
	kind, prefix, err := auth.Parse(secret)
	if err != nil || kind != auth.AgentTokenKind {
		t.Fatalf("secret %q parses as kind %q, %v; want an agent token", secret, kind, err)
	}
	want := &ferryv1.AgentToken{
		Id: created.Msg.GetToken().GetId(), Pool: "etl", Name: "rack-1", Prefix: prefix, CreateTime: timestamppb.New(t0),
	}
	if diff := cmp.Diff(want, created.Msg.GetToken(), protocmp.Transform()); diff != "" {
		t.Fatalf("created token (-want +got):\n%s", diff)
	}
	row, err := e.store.Q.AgentTokenGetByPrefix(ctx, prefix)
	if err != nil {
		t.Fatalf("stored token: %v", err)
	}
	if !auth.Matches(secret, row.SecretHash) {
		t.Errorf("stored hash does not match the returned secret")
	}

	list := func() []*ferryv1.AgentToken {
		t.Helper()
		resp, err := e.tokens.ListAgentTokens(ctx, connect.NewRequest(&ferryv1.ListAgentTokensRequest{Pool: "etl"}))
		if err != nil {
			t.Fatalf("ListAgentTokens: %v", err)
		}
		return resp.Msg.GetTokens()
	}
	if diff := cmp.Diff([]*ferryv1.AgentToken{want}, list(), protocmp.Transform()); diff != "" {
		t.Errorf("listed tokens (-want +got):\n%s", diff)
	}

	// Revoking twice keeps the first time and tells the authenticator each
	// time.
	e.clock.Advance(time.Minute)
	t1 := e.clock.Now()
	for range 2 {
		if _, err := e.tokens.RevokeAgentToken(ctx, connect.NewRequest(&ferryv1.RevokeAgentTokenRequest{Id: want.GetId()})); err != nil {
			t.Fatalf("RevokeAgentToken: %v", err)
		}
		e.clock.Advance(time.Minute)
	}
	want.RevokeTime = timestamppb.New(t1)
	if diff := cmp.Diff([]*ferryv1.AgentToken{want}, list(), protocmp.Transform()); diff != "" {
		t.Errorf("tokens after revoke (-want +got):\n%s", diff)
	}
	if n := e.revokes.Load(); n != 2 {
		t.Errorf("OnRevoke called %d times, want 2", n)
	}

	missing := uuid.NewString()
	_, err = e.tokens.RevokeAgentToken(ctx, connect.NewRequest(&ferryv1.RevokeAgentTokenRequest{Id: missing}))
	poolTestWantCode(t, err, connect.CodeNotFound, `agent token "`+missing+`" not found`)
	_, err = e.tokens.CreateAgentToken(ctx, connect.NewRequest(&ferryv1.CreateAgentTokenRequest{Pool: "nope", Name: "x"}))
	poolTestWantCode(t, err, connect.CodeNotFound, `work pool "nope" not found`)
	if n := e.revokes.Load(); n != 2 {
		t.Errorf("OnRevoke called %d times after a refused revoke, want 2", n)
	}
}
