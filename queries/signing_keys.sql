-- name: SigningKeyLock :exec
-- SigningKeyLock serializes every change to the set of signing keys (the
-- first key created at start, rotation, retirement) until the transaction
-- ends, so that two replicas starting at once create a single key. The key is
-- the bytes of "ferrysig".
SELECT pg_advisory_xact_lock(7378429400505870695);

-- name: SigningKeyInsert :one
INSERT INTO signing_keys (id, public_key, private_key_sealed, create_time, activate_time)
VALUES (@id, @public_key, @private_key_sealed, @now, @activate_time)
RETURNING *;

-- name: SigningKeyList :many
-- SigningKeyList returns every key, retired ones included, in activation
-- order (signing_keys_activate_idx).
SELECT * FROM signing_keys ORDER BY activate_time, seq;

-- name: SigningKeyListUsable :many
-- SigningKeyListUsable returns the keys not retired, in activation order.
SELECT * FROM signing_keys WHERE retire_time IS NULL ORDER BY activate_time, seq;

-- name: SigningKeyRetire :one
-- SigningKeyRetire keeps the first retirement time of a key retired twice.
UPDATE signing_keys SET retire_time = coalesce(retire_time, @now::timestamptz)
WHERE id = @id
RETURNING *;
