-- name: AgentUpsertSession :one
INSERT INTO agents (id, workspace_id, pool_id, name, version, capacity, session_id, token_id, draining,
                    connect_time, last_heartbeat_time)
VALUES (@id, @workspace_id, @pool_id, @name, @version, @capacity, @session_id, @token_id, @draining, @now, @now)
ON CONFLICT (pool_id, name) DO UPDATE
SET version = excluded.version,
    capacity = excluded.capacity,
    session_id = excluded.session_id,
    token_id = excluded.token_id,
    draining = excluded.draining,
    connect_time = excluded.connect_time,
    last_heartbeat_time = excluded.last_heartbeat_time,
    disconnect_time = NULL
RETURNING *;

-- name: AgentGetBySession :one
SELECT * FROM agents WHERE session_id = @session_id;

-- name: AgentHeartbeat :one
UPDATE agents SET last_heartbeat_time = @now, draining = @draining
WHERE session_id = @session_id
RETURNING *;

-- name: AgentDisconnect :exec
UPDATE agents SET disconnect_time = @now::timestamptz
WHERE session_id = @session_id AND disconnect_time IS NULL;

-- name: AgentList :many
SELECT a.*,
       (SELECT count(*) FROM runs r WHERE r.agent_id = a.id
            AND r.state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'CANCELLING')
            AND r.lease_expire_time IS NOT NULL)::integer AS active_runs
FROM agents a
WHERE a.pool_id = @pool_id
ORDER BY a.name;

-- name: AgentSetDrainRequested :one
-- AgentSetDrainRequested records or lifts an operator's request that an
-- agent drain, and returns the agent as AgentList does. The agent's own
-- draining flag is left as the agent last reported it.
WITH a AS (
    UPDATE agents
    SET drain_requested = @drain_requested::boolean,
        -- A repeated request keeps who asked first, and when.
        drain_requested_by = CASE WHEN NOT @drain_requested::boolean THEN ''
                                  WHEN agents.drain_requested THEN agents.drain_requested_by
                                  ELSE @requested_by::text END,
        drain_request_time = CASE WHEN NOT @drain_requested::boolean THEN NULL
                                  WHEN agents.drain_requested THEN agents.drain_request_time
                                  ELSE @now::timestamptz END
    WHERE agents.pool_id = @pool_id AND agents.name = @name
    RETURNING *
)
SELECT a.*,
       (SELECT count(*) FROM runs r WHERE r.agent_id = a.id
            AND r.state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'CANCELLING')
            AND r.lease_expire_time IS NOT NULL)::integer AS active_runs
FROM a;

-- name: AgentGetByName :one
SELECT * FROM agents WHERE pool_id = @pool_id AND name = @name;
