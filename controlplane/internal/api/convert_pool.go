package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// The values of the work_pools.type column.
const (
	poolTypeProcess = "process"
	poolTypeDocker  = "docker"
	poolTypeECS     = "ecs"
)

// poolTypeToDB returns the column value of a pool type; ok is false for
// WORK_POOL_TYPE_UNSPECIFIED and unknown values.
func poolTypeToDB(t ferryv1.WorkPoolType) (s string, ok bool) {
	switch t {
	case ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS:
		return poolTypeProcess, true
	case ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER:
		return poolTypeDocker, true
	case ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS:
		return poolTypeECS, true
	default:
		return "", false
	}
}

// poolTypeFromDB returns the pool type of a column value.
func poolTypeFromDB(s string) ferryv1.WorkPoolType {
	switch s {
	case poolTypeProcess:
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_PROCESS
	case poolTypeDocker:
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_DOCKER
	case poolTypeECS:
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_ECS
	default:
		return ferryv1.WorkPoolType_WORK_POOL_TYPE_UNSPECIFIED
	}
}

func workPoolToProto(p db.WorkPool) *ferryv1.WorkPool {
	return &ferryv1.WorkPool{
		Name:             p.Name,
		Type:             poolTypeFromDB(p.Type),
		Description:      p.Description,
		Paused:           p.Paused,
		ConcurrencyLimit: p.ConcurrencyLimit,
		CreateTime:       timestamppb.New(p.CreateTime),
		UpdateTime:       timestamppb.New(p.UpdateTime),
		BaseJobTemplate:  p.BaseJobTemplate,
	}
}

func workQueueToProto(q db.WorkQueue, pool string) *ferryv1.WorkQueue {
	return &ferryv1.WorkQueue{
		Pool:             pool,
		Name:             q.Name,
		Priority:         q.Priority,
		Paused:           q.Paused,
		ConcurrencyLimit: q.ConcurrencyLimit,
		CreateTime:       timestamppb.New(q.CreateTime),
		UpdateTime:       timestamppb.New(q.UpdateTime),
	}
}

// agentToProto converts an agent row; the agent is online when it has not
// disconnected and its last heartbeat is not before staleBefore.
func agentToProto(a db.AgentListRow, pool string, staleBefore time.Time) *ferryv1.Agent {
	return &ferryv1.Agent{
		Id:                a.ID.String(),
		Name:              a.Name,
		Pool:              pool,
		Version:           a.Version,
		Capacity:          a.Capacity,
		Online:            a.DisconnectTime == nil && !a.LastHeartbeatTime.Before(staleBefore),
		Draining:          a.Draining,
		ConnectTime:       timestamppb.New(a.ConnectTime),
		LastHeartbeatTime: timestamppb.New(a.LastHeartbeatTime),
		ActiveRuns:        a.ActiveRuns,
		DrainRequested:    a.DrainRequested,
		DrainRequestedBy:  a.DrainRequestedBy,
		DrainRequestTime:  optionalTimestamp(a.DrainRequestTime),
	}
}

// agentTokenToProto converts a token row; the secret hash never leaves it.
func agentTokenToProto(t db.AgentToken, pool string) *ferryv1.AgentToken {
	return &ferryv1.AgentToken{
		Id:          t.ID.String(),
		Pool:        pool,
		Name:        t.Name,
		Prefix:      t.Prefix,
		CreateTime:  timestamppb.New(t.CreateTime),
		RevokeTime:  optionalTimestamp(t.RevokeTime),
		LastUseTime: optionalTimestamp(t.LastUseTime),
	}
}

// optionalTimestamp converts a nullable time; nil stays unset.
func optionalTimestamp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}
