-- name: RunInsertMany :many
-- RunInsertMany inserts new SCHEDULED runs; a run whose idempotency key
-- already exists for its deployment is skipped (and not returned).
INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id,
                  state, state_name, attempt, max_attempts, parameters, idempotency_key,
                  priority, tags, expected_start_time, create_time, update_time, created_by,
                  retry_delay_ms, retry_on, timeout_ms, job_variables)
SELECT u.id, @workspace_id, u.deployment_id, u.deployment_version, u.pool_id, u.queue_id,
       'SCHEDULED', 'Scheduled', 1, u.max_attempts, u.parameters::jsonb, nullif(u.idempotency_key, ''),
       u.priority, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.expected_start_time,
       @now, @now, @created_by, u.retry_delay_ms, u.retry_on, u.timeout_ms,
       coalesce(nullif(u.job_variables, ''), '{}')::jsonb
FROM (SELECT unnest(@ids::uuid[]) AS id,
             unnest(@deployment_ids::uuid[]) AS deployment_id,
             unnest(@deployment_versions::integer[]) AS deployment_version,
             unnest(@pool_ids::uuid[]) AS pool_id,
             unnest(@queue_ids::uuid[]) AS queue_id,
             unnest(@max_attempts::integer[]) AS max_attempts,
             unnest(@parameters::text[]) AS parameters,
             unnest(@idempotency_keys::text[]) AS idempotency_key,
             unnest(@priorities::integer[]) AS priority,
             unnest(@tags::text[]) AS tags,
             unnest(@expected_start_times::timestamptz[]) AS expected_start_time,
             unnest(@retry_delays_ms::bigint[]) AS retry_delay_ms,
             unnest(@retry_ons::integer[]) AS retry_on,
             unnest(@timeouts_ms::bigint[]) AS timeout_ms,
             -- job_variables may be left out (NULL) or '' for none.
             unnest(@job_variables::text[]) AS job_variables) AS u
ON CONFLICT (deployment_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: RunGetByIdempotencyKeys :many
SELECT * FROM runs
WHERE deployment_id = ANY(@deployment_ids::uuid[]) AND idempotency_key = ANY(@keys::text[]);

-- name: RunGet :one
SELECT * FROM runs WHERE workspace_id = @workspace_id AND id = @id;

-- name: RunGetMany :many
SELECT * FROM runs WHERE id = ANY(@ids::uuid[]);

-- name: RunLockMany :many
-- RunLockMany locks runs in id order, so two transactions never deadlock.
SELECT * FROM runs WHERE id = ANY(@ids::uuid[]) ORDER BY id FOR UPDATE;

-- name: RunList :many
-- RunList returns a page of a workspace's runs, newest first, after the
-- (cursor_time, cursor_id) keyset cursor. Each filter reads "unset OR
-- condition", so one statement serves every combination; it must be planned
-- for its actual parameters (store.Store.ReadPlanned), which folds the
-- unset filters away and lets the planner pick the index that fits what is
-- left (see 0009_run_listing.sql). A single state comes as state, not in
-- states: an equality keeps runs_state_list_idx in create-time order, which
-- = ANY() over a non-leading column does not. Several states come in states
-- only with a tag filter, where the planner must be free to start from the
-- tag index; without one, RunListStates serves them.
SELECT * FROM runs r
WHERE r.workspace_id = @workspace_id
  AND (sqlc.narg(state)::text IS NULL OR r.state = sqlc.narg(state))
  AND (cardinality(@states::text[]) = 0 OR r.state = ANY(@states::text[]))
  AND (sqlc.narg(deployment_id)::uuid IS NULL OR r.deployment_id = sqlc.narg(deployment_id))
  AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
  AND (NOT @late_only::boolean
       OR (r.state = 'SCHEDULED' AND r.state_name = 'Scheduled'
           AND r.expected_start_time <= @late_before::timestamptz))
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR r.create_time >= sqlc.narg(created_after))
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR r.create_time < sqlc.narg(created_before))
  AND (sqlc.narg(cursor_time)::timestamptz IS NULL
       OR (r.create_time, r.id) < (sqlc.narg(cursor_time)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY r.create_time DESC, r.id DESC
LIMIT @page_limit;

-- name: RunListStates :many
-- RunListStates is RunList for runs in any of several states. It reads the
-- newest page_limit runs of each state in index order (runs_state_list_idx
-- or runs_deployment_state_idx, one short ordered scan per state) and
-- merges them, so it never sorts all the runs of a common state. Plan it
-- for its parameters, as RunList.
SELECT r.* FROM unnest(@states::text[]) AS s (state)
CROSS JOIN LATERAL (
    SELECT * FROM runs r
    WHERE r.workspace_id = @workspace_id
      AND r.state = s.state
      AND (sqlc.narg(deployment_id)::uuid IS NULL OR r.deployment_id = sqlc.narg(deployment_id))
      AND (cardinality(@tags::text[]) = 0 OR r.tags @> @tags::text[])
      AND (NOT @late_only::boolean
           OR (r.state = 'SCHEDULED' AND r.state_name = 'Scheduled'
               AND r.expected_start_time <= @late_before::timestamptz))
      AND (sqlc.narg(created_after)::timestamptz IS NULL OR r.create_time >= sqlc.narg(created_after))
      AND (sqlc.narg(created_before)::timestamptz IS NULL OR r.create_time < sqlc.narg(created_before))
      AND (sqlc.narg(cursor_time)::timestamptz IS NULL
           OR (r.create_time, r.id) < (sqlc.narg(cursor_time)::timestamptz, sqlc.narg(cursor_id)::uuid))
    ORDER BY r.create_time DESC, r.id DESC
    LIMIT @page_limit
) r
ORDER BY r.create_time DESC, r.id DESC
LIMIT @page_limit;

-- name: RunCountByBucket :many
-- RunCountByBucket counts a workspace's runs created in [start_time,
-- end_time) by bucket (each bucket_seconds wide, the first starting at
-- start_time) and by their state now. Naming every state lets
-- runs_state_list_idx serve it with one range per state, reading only the
-- window.
SELECT date_bin(make_interval(secs => @bucket_seconds::bigint), r.create_time,
                @start_time::timestamptz)::timestamptz AS bucket_start,
       r.state, count(*) AS runs
FROM runs r
WHERE r.workspace_id = @workspace_id
  AND r.state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED',
                  'FAILED', 'CRASHED', 'CANCELLING', 'CANCELLED')
  AND r.create_time >= @start_time AND r.create_time < @end_time::timestamptz
GROUP BY 1, 2;

-- name: RunCountLate :one
-- RunCountLate counts the runs that are Late at late_before plus the
-- late-after margin: SCHEDULED, not awaiting a retry, expected to start at
-- or before late_before. It reads runs_late_idx alone.
SELECT count(*) FROM runs
WHERE workspace_id = @workspace_id
  AND state = 'SCHEDULED' AND state_name = 'Scheduled'
  AND expected_start_time <= @late_before::timestamptz;

-- name: RunCountFailedBetween :one
-- RunCountFailedBetween counts the runs that ended FAILED or CRASHED after
-- since and at or before until. It reads runs_failed_end_idx alone.
SELECT count(*) FROM runs
WHERE workspace_id = @workspace_id
  AND state IN ('FAILED', 'CRASHED')
  AND end_time > @since::timestamptz AND end_time <= @until::timestamptz;

-- name: RunExpiredLeases :many
-- RunExpiredLeases lists runs whose offer or lease ended before now.
SELECT id, state, lease_token FROM runs
WHERE lease_expire_time IS NOT NULL AND lease_expire_time < @now::timestamptz
ORDER BY lease_expire_time
LIMIT @max_runs;

-- name: RunRenewLeases :many
-- RunRenewLeases extends the leases an agent still holds and returns the
-- runs it renewed; a run whose token or agent changed is not renewed.
UPDATE runs
SET lease_expire_time = @lease_expire_time
FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@lease_tokens::bigint[]) AS lease_token) AS u
WHERE runs.id = u.id
  AND runs.lease_token = u.lease_token
  AND runs.agent_id = @agent_id::uuid
  AND runs.state IN ('PENDING', 'RUNNING', 'CANCELLING')
RETURNING runs.id, runs.state, runs.attempt, runs.lease_token;

-- name: RunListLeasedByAgent :many
SELECT id, state, attempt, lease_token, state_message FROM runs
WHERE agent_id = @agent_id::uuid AND state IN ('PENDING', 'RUNNING', 'CANCELLING');

-- name: Notify :exec
SELECT pg_notify(@channel::text, @payload::text);

-- name: RunReleaseOffers :many
-- RunReleaseOffers withdraws the offers made to an agent whose stream ended,
-- so its runs can be offered to another agent at once.
UPDATE runs
SET agent_id = NULL, lease_token = 0, lease_expire_time = NULL, update_time = @now::timestamptz
WHERE agent_id = @agent_id::uuid AND state = 'SCHEDULED'
RETURNING id, pool_id;

-- name: RunUpdateMany :exec
-- RunUpdateMany writes many runs in one statement. Arrays cannot hold the
-- Go zero values as NULL, so NULL travels as a sentinel: the zero UUID, the
-- zero time (0001-01-01) and has_exit_code = false.
UPDATE runs
SET state = u.state,
    state_name = u.state_name,
    state_message = u.state_message,
    attempt = u.attempt,
    max_attempts = u.max_attempts,
    agent_id = nullif(u.agent_id, '00000000-0000-0000-0000-000000000000'::uuid),
    lease_token = u.lease_token,
    lease_expire_time = nullif(u.lease_expire_time, '0001-01-01 00:00:00+00'::timestamptz),
    expected_start_time = u.expected_start_time,
    start_time = nullif(u.start_time, '0001-01-01 00:00:00+00'::timestamptz),
    end_time = nullif(u.end_time, '0001-01-01 00:00:00+00'::timestamptz),
    exit_code = CASE WHEN u.has_exit_code THEN u.exit_code END,
    infrastructure_id = u.infrastructure_id,
    update_time = @now
FROM (SELECT unnest(@ids::uuid[]) AS id,
             unnest(@states::text[]) AS state,
             unnest(@state_names::text[]) AS state_name,
             unnest(@state_messages::text[]) AS state_message,
             unnest(@attempts::integer[]) AS attempt,
             unnest(@max_attempts::integer[]) AS max_attempts,
             unnest(@agent_ids::uuid[]) AS agent_id,
             unnest(@lease_tokens::bigint[]) AS lease_token,
             unnest(@lease_expire_times::timestamptz[]) AS lease_expire_time,
             unnest(@expected_start_times::timestamptz[]) AS expected_start_time,
             unnest(@start_times::timestamptz[]) AS start_time,
             unnest(@end_times::timestamptz[]) AS end_time,
             unnest(@has_exit_codes::boolean[]) AS has_exit_code,
             unnest(@exit_codes::integer[]) AS exit_code,
             unnest(@infrastructure_ids::text[]) AS infrastructure_id) AS u
WHERE runs.id = u.id;
