-- name: WorkPoolUpsert :one
INSERT INTO work_pools (id, workspace_id, name, type, description, paused, concurrency_limit, create_time, update_time)
VALUES (@id, @workspace_id, @name, @type, @description, @paused, @concurrency_limit, @now, @now)
ON CONFLICT (workspace_id, name) DO UPDATE
SET description = excluded.description,
    paused = excluded.paused,
    concurrency_limit = excluded.concurrency_limit,
    update_time = CASE
        WHEN (work_pools.description, work_pools.paused, work_pools.concurrency_limit)
            IS DISTINCT FROM (excluded.description, excluded.paused, excluded.concurrency_limit)
        THEN excluded.update_time ELSE work_pools.update_time END
RETURNING *;

-- name: WorkPoolGetByName :one
SELECT * FROM work_pools WHERE workspace_id = @workspace_id AND name = @name;

-- name: WorkPoolGet :one
SELECT * FROM work_pools WHERE id = @id;

-- name: WorkPoolList :many
SELECT * FROM work_pools WHERE workspace_id = @workspace_id ORDER BY name;

-- name: WorkPoolDelete :execrows
DELETE FROM work_pools WHERE workspace_id = @workspace_id AND id = @id;

-- name: WorkPoolDeploymentCount :one
SELECT count(*) FROM deployments WHERE pool_id = @pool_id AND delete_time IS NULL;

-- name: WorkPoolRunCount :one
SELECT count(*) FROM runs WHERE pool_id = @pool_id;

-- name: WorkPoolSetJobTemplate :one
-- WorkPoolSetJobTemplate replaces a pool's base job template ('' for none).
UPDATE work_pools
SET base_job_template = @base_job_template,
    update_time = CASE WHEN base_job_template IS DISTINCT FROM @base_job_template
                       THEN @now ELSE update_time END
WHERE id = @id
RETURNING *;
