-- name: APIKeyInsert :one
INSERT INTO api_keys (id, workspace_id, name, prefix, secret_hash, role, create_time, expire_time)
VALUES (@id, @workspace_id, @name, @prefix, @secret_hash, @role, @now, sqlc.narg(expire_time))
RETURNING *;

-- name: APIKeyGetByPrefix :one
SELECT * FROM api_keys WHERE prefix = @prefix;

-- name: APIKeyTouch :exec
UPDATE api_keys SET last_use_time = @now::timestamptz
WHERE id = @id AND (last_use_time IS NULL OR last_use_time < @stale_before::timestamptz);
