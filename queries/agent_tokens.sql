-- name: AgentTokenInsert :one
INSERT INTO agent_tokens (id, workspace_id, pool_id, name, prefix, secret_hash, create_time)
VALUES (@id, @workspace_id, @pool_id, @name, @prefix, @secret_hash, @now)
RETURNING *;

-- name: AgentTokenGetByPrefix :one
SELECT * FROM agent_tokens WHERE prefix = @prefix;

-- name: AgentTokenList :many
SELECT * FROM agent_tokens WHERE pool_id = @pool_id ORDER BY create_time, id;

-- name: AgentTokenRevoke :one
UPDATE agent_tokens SET revoke_time = coalesce(revoke_time, @now::timestamptz)
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: AgentTokenTouch :exec
UPDATE agent_tokens SET last_use_time = @now::timestamptz
WHERE id = @id AND (last_use_time IS NULL OR last_use_time < @stale_before::timestamptz);

-- name: AgentTokenRehash :exec
-- AgentTokenRehash upgrades a version 1 (SHA-256) hash to the keyed hash
-- once the token was verified.
UPDATE agent_tokens SET secret_hash = @secret_hash, hash_version = 2
WHERE id = @id AND hash_version = 1;
