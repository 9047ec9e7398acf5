package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/run"
	"github.com/ferryhq/ferry/controlplane/internal/transition"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// watchFallback re-reads a watched run this often even without a
// notification, so a lost notification delays an update but never loses it.
const watchFallback = 5 * time.Second

// subscribeRun returns a channel that receives a value whenever a
// notification on channel names id.
func (s *RunServer) subscribeRun(channel string, id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	want := id.String()
	unsubscribe := s.Listener.Subscribe(channel, func(payload string) {
		if payload == notify.Resync || strings.Contains(payload, want) {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	return ch, unsubscribe
}

// WatchRun streams the run after each change until it is final.
func (s *RunServer) WatchRun(ctx context.Context, req *connect.Request[ferryv1.WatchRunRequest], stream *connect.ServerStream[ferryv1.WatchRunResponse]) error {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return err
	}
	changed, unsubscribe := s.subscribeRun(transition.ChannelRunChanged, r.ID)
	defer unsubscribe()
	names := s.names()
	var lastUpdate time.Time
	var lastState string
	var lastLate bool
	for {
		late := names.isLate(r)
		if !r.UpdateTime.Equal(lastUpdate) || r.State != lastState || late != lastLate {
			pr, err := names.run(ctx, r)
			if err != nil {
				return errInternal(ctx, s.Log, "watch run", err)
			}
			if err := stream.Send(&ferryv1.WatchRunResponse{Run: pr}); err != nil {
				return err
			}
			lastUpdate, lastState, lastLate = r.UpdateTime, r.State, late
		}
		if run.IsTerminal(run.State(r.State)) {
			return nil
		}
		// A run turning Late changes nothing stored, so wake up for it.
		var turnsLate <-chan time.Time
		if at, ok := names.lateAt(r); ok && !late {
			turnsLate = s.Clock.After(at.Sub(s.Clock.Now()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-turnsLate:
		case <-time.After(watchFallback):
		}
		if _, r, err = s.getRun(ctx, req.Msg.GetId()); err != nil {
			return err
		}
	}
}

// ListRunStateChanges returns a run's history.
func (s *RunServer) ListRunStateChanges(ctx context.Context, req *connect.Request[ferryv1.ListRunStateChangesRequest]) (*connect.Response[ferryv1.ListRunStateChangesResponse], error) {
	_, r, err := s.getRun(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	rows, err := s.Store.Q.RunStateChangeList(ctx, r.ID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list state changes", err)
	}
	resp := &ferryv1.ListRunStateChangesResponse{}
	for _, c := range rows {
		var from ferryv1.RunState
		if c.FromState != nil {
			from = stateToProto(*c.FromState)
		}
		resp.Changes = append(resp.Changes, &ferryv1.RunStateChange{
			Id: c.ID, Attempt: c.Attempt, FromState: from, ToState: stateToProto(c.ToState),
			ToName: c.ToName, Message: c.Message, Actor: c.Actor, Time: timestamppb.New(c.Time),
		})
	}
	return connect.NewResponse(resp), nil
}

func encodeToken(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode page token: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
