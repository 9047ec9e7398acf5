-- name: WorkQueueUpsert :one
INSERT INTO work_queues (id, workspace_id, pool_id, name, priority, paused, concurrency_limit, create_time, update_time)
VALUES (@id, @workspace_id, @pool_id, @name, @priority, @paused, @concurrency_limit, @now, @now)
ON CONFLICT (pool_id, name) DO UPDATE
SET priority = excluded.priority,
    paused = excluded.paused,
    concurrency_limit = excluded.concurrency_limit,
    update_time = CASE
        WHEN (work_queues.priority, work_queues.paused, work_queues.concurrency_limit)
            IS DISTINCT FROM (excluded.priority, excluded.paused, excluded.concurrency_limit)
        THEN excluded.update_time ELSE work_queues.update_time END
RETURNING *;

-- name: WorkQueueEnsure :one
INSERT INTO work_queues (id, workspace_id, pool_id, name, create_time, update_time)
VALUES (@id, @workspace_id, @pool_id, @name, @now, @now)
ON CONFLICT (pool_id, name) DO UPDATE SET name = excluded.name
RETURNING *;

-- name: WorkQueueGetByName :one
SELECT * FROM work_queues WHERE pool_id = @pool_id AND name = @name;

-- name: WorkQueueGet :one
SELECT * FROM work_queues WHERE id = @id;

-- name: WorkQueueList :many
SELECT * FROM work_queues WHERE pool_id = @pool_id ORDER BY priority DESC, name;
