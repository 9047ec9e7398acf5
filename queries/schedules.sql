-- name: ScheduleLockByName :one
-- ScheduleLockByName locks a schedule row for an apply, pause, resume or
-- delete, so these serialize with the scheduler's step of the schedule.
SELECT * FROM schedules
WHERE deployment_id = @deployment_id AND name = @name
FOR UPDATE;

-- name: ScheduleInsert :one
INSERT INTO schedules (id, workspace_id, deployment_id, name, kind, expression, zone, anchor_time,
                       interval_ms, parameters, active, jitter_ms, catch_up, catch_up_limit,
                       drop_after_ms, last_nominal_time, created_by, create_time, update_time)
VALUES (@id, @workspace_id, @deployment_id, @name, @kind, @expression, @zone, sqlc.narg(anchor_time),
        @interval_ms, @parameters, @active, @jitter_ms, @catch_up, @catch_up_limit,
        @drop_after_ms, @last_nominal_time, @created_by, @now, @now)
RETURNING *;

-- name: ScheduleUpdate :one
UPDATE schedules
SET kind = @kind,
    expression = @expression,
    zone = @zone,
    anchor_time = sqlc.narg(anchor_time),
    interval_ms = @interval_ms,
    parameters = @parameters,
    active = @active,
    jitter_ms = @jitter_ms,
    catch_up = @catch_up,
    catch_up_limit = @catch_up_limit,
    drop_after_ms = @drop_after_ms,
    last_nominal_time = @last_nominal_time,
    update_time = @now
WHERE id = @id
RETURNING *;

-- name: ScheduleDelete :exec
DELETE FROM schedules WHERE id = @id;

-- name: ScheduleGetByName :one
SELECT sqlc.embed(s), d.name AS deployment_name
FROM schedules s
JOIN deployments d ON d.id = s.deployment_id
WHERE s.workspace_id = @workspace_id AND d.name = @deployment_name AND s.name = @name
  AND d.delete_time IS NULL;

-- name: ScheduleList :many
-- ScheduleList pages a workspace's schedules by (deployment name, schedule
-- name), after the cursor when one is given.
SELECT sqlc.embed(s), d.name AS deployment_name
FROM schedules s
JOIN deployments d ON d.id = s.deployment_id
WHERE s.workspace_id = @workspace_id
  AND d.delete_time IS NULL
  AND (sqlc.narg(deployment_name)::text IS NULL OR d.name = sqlc.narg(deployment_name))
  AND (sqlc.narg(cursor_deployment)::text IS NULL
       OR (d.name, s.name) > (sqlc.narg(cursor_deployment)::text, sqlc.narg(cursor_name)::text))
ORDER BY d.name, s.name
LIMIT @page_limit;

-- name: ScheduleListDue :many
-- ScheduleListDue pages the active schedules of live deployments whose
-- cursor is before until, in id order after the given id.
SELECT s.id FROM schedules s
JOIN deployments d ON d.id = s.deployment_id
WHERE s.active AND d.delete_time IS NULL
  AND s.last_nominal_time < @until
  AND s.id > @after_id
ORDER BY s.id
LIMIT @max_schedules;

-- name: ScheduleLockForStep :one
-- ScheduleLockForStep locks an active schedule for one scheduler step and
-- returns it with its deployment. A schedule that another transaction holds
-- (an apply in progress) is skipped and returns no row.
SELECT sqlc.embed(s), sqlc.embed(d)
FROM schedules s
JOIN deployments d ON d.id = s.deployment_id
WHERE s.id = @id AND s.active AND d.delete_time IS NULL
FOR UPDATE OF s SKIP LOCKED;

-- name: ScheduleAdvance :exec
-- ScheduleAdvance moves the cursor forward, never back.
UPDATE schedules
SET last_nominal_time = greatest(last_nominal_time, @last_nominal_time::timestamptz)
WHERE id = @id;

-- name: RunInsertScheduled :many
-- RunInsertScheduled inserts the SCHEDULED runs of one schedule. A fire time
-- that already has a run is skipped (and not returned), through the unique
-- index runs_schedule_nominal_idx.
INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id,
                  state, state_name, attempt, max_attempts, parameters, priority, tags,
                  expected_start_time, create_time, update_time, created_by,
                  retry_delay_ms, retry_on, timeout_ms, schedule_id, nominal_time)
SELECT u.id, @workspace_id, @deployment_id, @deployment_version, @pool_id, @queue_id,
       'SCHEDULED', 'Scheduled', 1, @max_attempts, (@parameters::text)::jsonb, @priority,
       ARRAY(SELECT jsonb_array_elements_text((@tags::text)::jsonb)), u.expected_start_time,
       @now, @now, @created_by, @retry_delay_ms, @retry_on, @timeout_ms, @schedule_id::uuid, u.nominal_time
FROM (SELECT unnest(@ids::uuid[]) AS id,
             unnest(@nominal_times::timestamptz[]) AS nominal_time,
             unnest(@expected_start_times::timestamptz[]) AS expected_start_time) AS u
ON CONFLICT (schedule_id, nominal_time) WHERE schedule_id IS NOT NULL DO NOTHING
RETURNING id, nominal_time::timestamptz;

-- name: RunListScheduledAfter :many
-- RunListScheduledAfter lists a schedule's runs still waiting to start whose
-- fire time is after the given instant.
SELECT id FROM runs
WHERE schedule_id = @schedule_id::uuid AND nominal_time > @after::timestamptz AND state = 'SCHEDULED'
ORDER BY nominal_time;

-- name: RunDetachSchedule :exec
-- RunDetachSchedule unlinks cancelled runs from their schedule, so that
-- their fire times may get a run again once the schedule is resumed.
UPDATE runs SET schedule_id = NULL
WHERE id = ANY(@ids::uuid[]) AND state = 'CANCELLED';
