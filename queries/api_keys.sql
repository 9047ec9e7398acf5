-- name: APIKeyInsert :one
INSERT INTO api_keys (id, workspace_id, name, prefix, secret_hash, role, create_time, expire_time)
VALUES (@id, @workspace_id, @name, @prefix, @secret_hash, @role, @now, sqlc.narg(expire_time))
RETURNING *;

-- name: APIKeyGetByPrefix :one
SELECT * FROM api_keys WHERE prefix = @prefix;

-- name: APIKeyTouch :exec
UPDATE api_keys SET last_use_time = @now::timestamptz
WHERE id = @id AND (last_use_time IS NULL OR last_use_time < @stale_before::timestamptz);

-- name: APIKeyCreate :one
-- APIKeyCreate stores a key hashed with the current keyed hash (version 2).
INSERT INTO api_keys (id, workspace_id, name, prefix, secret_hash, hash_version, role, user_id, created_by,
                      create_time, expire_time)
VALUES (@id, @workspace_id, @name, @prefix, @secret_hash, 2, @role, sqlc.narg(user_id), @created_by,
        @now, sqlc.narg(expire_time))
RETURNING *;

-- name: APIKeyList :many
-- APIKeyList lists a workspace's keys with the email or service account
-- name of their owner ('' for keys without one).
SELECT sqlc.embed(k), coalesce(u.email, u.display_name, '')::text AS owner
FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
WHERE k.workspace_id = @workspace_id
ORDER BY k.create_time, k.id;

-- name: APIKeyRevokeByUser :execrows
-- APIKeyRevokeByUser revokes the keys a user owns in one workspace, as
-- when the user leaves it.
UPDATE api_keys SET revoke_time = @now::timestamptz
WHERE workspace_id = @workspace_id AND user_id = @user_id AND revoke_time IS NULL;

-- name: APIKeyGet :one
SELECT * FROM api_keys WHERE workspace_id = @workspace_id AND id = @id;

-- name: APIKeyRevoke :one
UPDATE api_keys SET revoke_time = coalesce(revoke_time, @now::timestamptz)
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: APIKeyRehash :exec
-- APIKeyRehash upgrades a version 1 hash once the key was verified; the
-- condition on the version makes concurrent upgrades harmless.
UPDATE api_keys SET secret_hash = @secret_hash, hash_version = 2
WHERE id = @id AND hash_version = 1;
