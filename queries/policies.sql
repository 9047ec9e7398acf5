-- name: PolicyUpsert :one
-- PolicyUpsert creates a policy at version 1 or moves its latest_version on
-- by one, returning the number the new version must take. The row lock it
-- takes serializes concurrent uploads of one policy.
INSERT INTO policies (id, workspace_id, kind, name, latest_version, create_time, update_time)
VALUES (@id, @workspace_id, @kind, @name, 1, @now, @now)
ON CONFLICT (workspace_id, kind, name) DO UPDATE
SET latest_version = policies.latest_version + 1, update_time = EXCLUDED.update_time
RETURNING *;

-- name: PolicyGetByName :one
SELECT * FROM policies WHERE workspace_id = @workspace_id AND kind = @kind AND name = @name;

-- name: PolicyGetByNameForUpdate :one
SELECT * FROM policies WHERE workspace_id = @workspace_id AND kind = @kind AND name = @name
FOR UPDATE;

-- name: PolicyCountByWorkspace :one
SELECT count(*) FROM policies WHERE workspace_id = @workspace_id;

-- name: PolicyListByWorkspace :many
-- PolicyListByWorkspace lists a workspace's policies, optionally of one
-- kind, by kind and name (the unique index on workspace_id, kind, name).
SELECT * FROM policies
WHERE workspace_id = @workspace_id AND (sqlc.narg('kind')::text IS NULL OR kind = sqlc.narg('kind'))
ORDER BY kind, name;

-- name: PolicySetActive :one
-- PolicySetActive sets or clears (NULL) the active version of a policy.
UPDATE policies SET active_version = sqlc.narg('active_version'), update_time = @now
WHERE id = @id AND workspace_id = @workspace_id
RETURNING *;

-- name: PolicyVersionInsert :one
INSERT INTO policy_versions (policy_id, version, workspace_id, source, sha256, created_by, create_time)
VALUES (@policy_id, @version, @workspace_id, @source, @sha256, @created_by, @now)
RETURNING *;

-- name: PolicyVersionGet :one
SELECT * FROM policy_versions
WHERE workspace_id = @workspace_id AND policy_id = @policy_id AND version = @version;

-- name: PolicyVersionList :many
-- PolicyVersionList lists a policy's versions, newest first, without their
-- sources.
SELECT policy_id, version, sha256, created_by, create_time FROM policy_versions
WHERE workspace_id = @workspace_id AND policy_id = @policy_id
ORDER BY version DESC;

-- name: PolicyListActiveSources :many
-- PolicyListActiveSources returns the active version of every active policy
-- of a workspace and kind, by name.
SELECT p.name, v.version, v.source FROM policies p
JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.active_version
WHERE p.workspace_id = @workspace_id AND p.kind = @kind AND p.active_version IS NOT NULL
ORDER BY p.name;

-- name: PolicyGenerationBump :one
-- PolicyGenerationBump counts one change to the active policies of a
-- workspace and kind. Its row lock serializes activations of that workspace
-- and kind until the transaction ends, so each checks the set it leaves.
INSERT INTO policy_generations (workspace_id, kind, generation)
VALUES (@workspace_id, @kind, 1)
ON CONFLICT (workspace_id, kind) DO UPDATE SET generation = policy_generations.generation + 1
RETURNING generation;

-- name: PolicyGenerationGet :one
-- PolicyGenerationGet returns 0 when the set never changed.
SELECT coalesce((SELECT generation FROM policy_generations
                 WHERE workspace_id = @workspace_id AND kind = @kind), 0)::bigint;
