package dispatch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/signing"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// signTestRows creates what a run offer needs: a workspace, a process pool
// with a queue, a deployment, an agent of the pool and one due run. It
// returns the agent's and the run's ids.
func signTestRows(t *testing.T, q db.Querier, now time.Time) (workspaceID, poolID, agentID, runID uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	ws, err := q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "signing", Now: now})
	if err != nil {
		t.Fatalf("insert workspace: %v", err)
	}
	pool, err := q.WorkPoolUpsert(ctx, db.WorkPoolUpsertParams{ID: uuid.New(), WorkspaceID: ws.ID, Name: "local", Type: "process", Now: now})
	if err != nil {
		t.Fatalf("insert pool: %v", err)
	}
	queue, err := q.WorkQueueUpsert(ctx, db.WorkQueueUpsertParams{ID: uuid.New(), WorkspaceID: ws.ID, PoolID: pool.ID, Name: "default", Now: now})
	if err != nil {
		t.Fatalf("insert queue: %v", err)
	}
	dep, err := q.DeploymentInsert(ctx, db.DeploymentInsertParams{ID: uuid.New(), WorkspaceID: ws.ID, Name: "hello", PoolID: pool.ID, QueueID: queue.ID, Now: now})
	if err != nil {
		t.Fatalf("insert deployment: %v", err)
	}
	if err := q.DeploymentVersionInsert(ctx, db.DeploymentVersionInsertParams{
		DeploymentID: dep.ID, Version: 1, Spec: []byte(`{"command":["echo","hello"],"env":{"GREETING":"hi"}}`),
		SpecHash: "test", CreatedBy: "test", Now: now,
	}); err != nil {
		t.Fatalf("insert deployment version: %v", err)
	}
	token, err := q.AgentTokenInsert(ctx, db.AgentTokenInsertParams{
		ID: uuid.New(), WorkspaceID: ws.ID, PoolID: pool.ID, Name: "agent", Prefix: uuid.NewString(), SecretHash: []byte("x"), Now: now,
	})
	if err != nil {
		t.Fatalf("insert agent token: %v", err)
	}
	agent, err := q.AgentUpsertSession(ctx, db.AgentUpsertSessionParams{
		ID: uuid.New(), WorkspaceID: ws.ID, PoolID: pool.ID, Name: "agent-1", Capacity: 4,
		SessionID: uuid.New(), TokenID: token.ID, Now: now,
	})
	if err != nil {
		t.Fatalf("insert agent: %v", err)
	}
	runs, err := q.RunInsertMany(ctx, db.RunInsertManyParams{
		WorkspaceID: ws.ID, Now: now, CreatedBy: "test",
		Ids: []uuid.UUID{uuid.New()}, DeploymentIds: []uuid.UUID{dep.ID}, DeploymentVersions: []int32{1},
		PoolIds: []uuid.UUID{pool.ID}, QueueIds: []uuid.UUID{queue.ID}, MaxAttempts: []int32{1},
		Parameters: []string{`{"n":1}`}, IdempotencyKeys: []string{""}, Priorities: []int32{0}, Tags: []string{"[]"},
		ExpectedStartTimes: []time.Time{now}, RetryDelaysMs: []int64{0}, RetryOns: []int32{0}, TimeoutsMs: []int64{60000},
	})
	if err != nil || len(runs) != 1 {
		t.Fatalf("insert run: %d runs, %v", len(runs), err)
	}
	return ws.ID, pool.ID, agent.ID, runs[0].ID
}

// TestHubSignsOrders runs the dispatcher against a real database and checks
// that the order it pushes verifies with the installation's public key and
// that its signed content repeats the clear fields.
func TestHubSignsOrders(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(time.Now().UTC().Truncate(time.Millisecond))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	kek, err := signing.NewKEK(bytes.Repeat([]byte{4}, signing.KEKSize), "test")
	if err != nil {
		t.Fatal(err)
	}
	keys := signing.NewKeyring(st, kek)
	signer := signing.NewSigner(keys, fake, log)
	if err := signer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wsID, poolID, agentID, runID := signTestRows(t, st.Q, fake.Now())

	const offerTTL = 10 * time.Second
	hub := NewHub(Config{OfferTTL: offerTTL, Signer: signer}, st, fake, log)
	go hub.Run(ctx)
	session := NewSession(uuid.New(), agentID, poolID, wsID, 4, false)
	hub.Register(session)
	t.Cleanup(func() { hub.Unregister(session) })

	var order *ferryv1.WorkOrder
	select {
	case msg := <-session.Out:
		order = msg.GetWorkOrder()
	case <-time.After(30 * time.Second):
		t.Fatal("no work order within 30s")
	}
	if order == nil || order.GetRunId() != runID.String() {
		t.Fatalf("got order %v, want one for run %s", order, runID)
	}

	listed, err := keys.List(ctx, fake.Now(), false)
	if err != nil || len(listed) != 1 {
		t.Fatalf("list keys: %v, %v", listed, err)
	}
	if order.GetKeyId() != listed[0].ID {
		t.Errorf("signed with %q, want the active key %s", order.GetKeyId(), listed[0].ID)
	}
	if !ed25519.Verify(listed[0].PublicKey, order.GetSignedOrder(), order.GetSignature()) {
		t.Fatal("the order's signature does not verify with the active public key")
	}
	signed := new(ferryv1.SignedOrder)
	if err := proto.Unmarshal(order.GetSignedOrder(), signed); err != nil {
		t.Fatal(err)
	}
	want := &ferryv1.SignedOrder{
		RunId: order.GetRunId(), Attempt: order.GetAttempt(), LeaseToken: order.GetLeaseToken(),
		ExpireTime: timestamppb.New(fake.Now().Add(offerTTL)), Job: order.GetJob(),
		AgentId: agentID.String(), IssueTime: timestamppb.New(fake.Now()),
	}
	if diff := cmp.Diff(want, signed, protocmp.Transform()); diff != "" {
		t.Errorf("signed content (-want +got):\n%s", diff)
	}
	if order.GetAttempt() < 1 || order.GetLeaseToken() < 1 || len(order.GetJob().GetCommand()) == 0 {
		t.Errorf("clear fields not filled: %v", order)
	}
}

// failingSigner fails every signature.
type failingSigner struct{}

func (failingSigner) Sign(*ferryv1.SignedOrder) ([]byte, []byte, string, error) {
	return nil, nil, "", signing.ErrNoActiveKey
}

func TestSignWorkOrderError(t *testing.T) {
	t.Parallel()
	order := &ferryv1.WorkOrder{RunId: "r1", Attempt: 1, LeaseToken: 3}
	err := SignWorkOrder(failingSigner{}, order, uuid.New(), time.Now())
	if !errors.Is(err, signing.ErrNoActiveKey) {
		t.Fatalf("got %v, want the signer's error", err)
	}
	if order.GetSignedOrder() != nil || order.GetSignature() != nil || order.GetKeyId() != "" {
		t.Errorf("a failed signature left fields set: %v", order)
	}
}
