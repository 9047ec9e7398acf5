-- name: DeploymentInsert :one
INSERT INTO deployments (id, workspace_id, name, pool_id, queue_id, current_version, create_time, update_time)
VALUES (@id, @workspace_id, @name, @pool_id, @queue_id, 1, @now, @now)
RETURNING *;

-- name: DeploymentGetByName :one
SELECT * FROM deployments
WHERE workspace_id = @workspace_id AND name = @name AND delete_time IS NULL;

-- name: DeploymentLockByName :one
SELECT * FROM deployments
WHERE workspace_id = @workspace_id AND name = @name AND delete_time IS NULL
FOR UPDATE;

-- name: DeploymentGet :one
SELECT * FROM deployments WHERE id = @id;

-- name: DeploymentListByName :many
SELECT sqlc.embed(d), v.spec, p.name AS pool_name, coalesce(c.paused, false)::boolean AS paused
FROM deployments d
JOIN deployment_versions v ON v.deployment_id = d.id AND v.version = d.current_version
JOIN work_pools p ON p.id = d.pool_id
LEFT JOIN deployment_controls c ON c.deployment_id = d.id
WHERE d.workspace_id = @workspace_id AND d.delete_time IS NULL
  AND d.name > @after_name
  AND (sqlc.narg(pool_id)::uuid IS NULL OR d.pool_id = sqlc.narg(pool_id))
ORDER BY d.name
LIMIT @page_limit;

-- name: DeploymentSetVersion :one
UPDATE deployments
SET current_version = @version, pool_id = @pool_id, queue_id = @queue_id, update_time = @now
WHERE id = @id
RETURNING *;

-- name: DeploymentSoftDelete :exec
UPDATE deployments SET delete_time = @now::timestamptz WHERE id = @id;

-- name: DeploymentActiveRunCount :one
SELECT count(*) FROM runs
WHERE deployment_id = @deployment_id AND state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'CANCELLING');

-- name: DeploymentVersionInsert :exec
INSERT INTO deployment_versions (deployment_id, version, spec, spec_hash, created_by, create_time)
VALUES (@deployment_id, @version, @spec, @spec_hash, @created_by, @now);

-- name: DeploymentVersionGet :one
SELECT * FROM deployment_versions WHERE deployment_id = @deployment_id AND version = @version;

-- name: DeploymentVersionList :many
SELECT * FROM deployment_versions WHERE deployment_id = @deployment_id ORDER BY version DESC;
