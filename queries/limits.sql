-- name: LimitOfferCandidates :many
-- LimitOfferCandidates lists due, unoffered SCHEDULED runs of a pool in
-- dispatch order (queue priority, run priority, expected start), with every
-- limit each counts against. Paused queues and deployments are left out, and
-- so are runs whose queue, deployment or named limit looked full in this
-- statement's snapshot: it takes no lock, so the caller must lock the limits
-- and count again before offering (see package limits). The filter only
-- keeps runs that cannot start from crowding the LIMIT out.
WITH active AS MATERIALIZED (
    SELECT a.queue_id, a.deployment_id, a.tags, coalesce(c.limit_names, '{}'::text[]) AS limit_names
    FROM runs a
    LEFT JOIN deployment_controls c ON c.deployment_id = a.deployment_id
    WHERE a.workspace_id = @workspace_id
      AND (a.state IN ('PENDING', 'RUNNING', 'CANCELLING')
           OR (a.state = 'SCHEDULED' AND a.lease_expire_time > @now::timestamptz))
),
queue_use AS (
    SELECT u.queue_id, count(*)::integer AS n FROM active u GROUP BY u.queue_id
),
deployment_use AS (
    SELECT u.deployment_id, count(*)::integer AS n FROM active u GROUP BY u.deployment_id
),
full_limits AS (
    SELECT l.name, l.tags FROM concurrency_limits l
    WHERE l.workspace_id = @workspace_id
      AND l.slots <= (SELECT count(*) FROM active u
                      WHERE (cardinality(l.tags) > 0 AND u.tags @> l.tags) OR l.name = ANY(u.limit_names))
)
SELECT r.id, r.pool_id, r.queue_id, r.deployment_id,
       p.concurrency_limit AS pool_limit,
       q.concurrency_limit AS queue_limit,
       coalesce(c.concurrency_limit, 0)::integer AS deployment_limit,
       ARRAY(SELECT l.id FROM concurrency_limits l
             WHERE l.workspace_id = r.workspace_id
               AND ((cardinality(l.tags) > 0 AND r.tags @> l.tags)
                    OR l.name = ANY(coalesce(c.limit_names, '{}'::text[])))
             ORDER BY l.id)::uuid[] AS limit_ids
FROM runs r
JOIN work_pools p ON p.id = r.pool_id
JOIN work_queues q ON q.id = r.queue_id
LEFT JOIN deployment_controls c ON c.deployment_id = r.deployment_id
LEFT JOIN queue_use qu ON qu.queue_id = r.queue_id
LEFT JOIN deployment_use du ON du.deployment_id = r.deployment_id
WHERE r.pool_id = @pool_id
  AND r.state = 'SCHEDULED'
  AND r.expected_start_time <= @now::timestamptz
  AND (r.lease_expire_time IS NULL OR r.lease_expire_time <= @now::timestamptz)
  AND NOT q.paused
  AND NOT coalesce(c.paused, false)
  AND (q.concurrency_limit = 0 OR coalesce(qu.n, 0) < q.concurrency_limit)
  AND (coalesce(c.concurrency_limit, 0) = 0 OR coalesce(du.n, 0) < c.concurrency_limit)
  AND NOT EXISTS (SELECT 1 FROM full_limits f
                  WHERE (cardinality(f.tags) > 0 AND r.tags @> f.tags)
                     OR f.name = ANY(coalesce(c.limit_names, '{}'::text[])))
ORDER BY q.priority DESC, r.priority DESC, r.expected_start_time, r.id
LIMIT @max_runs;

-- name: LimitRunScopes :many
-- LimitRunScopes returns the given runs, in dispatch order, with every
-- limit each counts against; the claim transaction reads it before locking.
SELECT r.id, r.workspace_id, r.pool_id, r.queue_id, r.deployment_id, r.state, r.agent_id,
       r.lease_token, r.lease_expire_time,
       p.concurrency_limit AS pool_limit,
       q.concurrency_limit AS queue_limit,
       coalesce(c.concurrency_limit, 0)::integer AS deployment_limit,
       ARRAY(SELECT l.id FROM concurrency_limits l
             WHERE l.workspace_id = r.workspace_id
               AND ((cardinality(l.tags) > 0 AND r.tags @> l.tags)
                    OR l.name = ANY(coalesce(c.limit_names, '{}'::text[])))
             ORDER BY l.id)::uuid[] AS limit_ids
FROM runs r
JOIN work_pools p ON p.id = r.pool_id
JOIN work_queues q ON q.id = r.queue_id
LEFT JOIN deployment_controls c ON c.deployment_id = r.deployment_id
WHERE r.id = ANY(@ids::uuid[])
ORDER BY q.priority DESC, r.priority DESC, r.expected_start_time, r.id;

-- The four LimitLock queries lock the rows that carry limits. Every offer
-- and claim transaction takes them in one order (pool, queues, deployments,
-- named limits; each by id) before it counts, so two of them never
-- deadlock. FOR NO KEY UPDATE conflicts with itself but not with the
-- FOR KEY SHARE that foreign-key checks take, so inserting runs is never
-- blocked by it.

-- name: LimitLockPool :one
SELECT concurrency_limit FROM work_pools WHERE id = @id FOR NO KEY UPDATE;

-- name: LimitLockQueues :many
SELECT id, concurrency_limit FROM work_queues
WHERE id = ANY(@ids::uuid[])
ORDER BY id
FOR NO KEY UPDATE;

-- name: LimitLockDeployments :many
SELECT deployment_id, concurrency_limit FROM deployment_controls
WHERE deployment_id = ANY(@ids::uuid[])
ORDER BY deployment_id
FOR NO KEY UPDATE;

-- name: LimitLockNamed :many
SELECT id, name, slots FROM concurrency_limits
WHERE id = ANY(@ids::uuid[])
ORDER BY id
FOR NO KEY UPDATE;

-- name: LimitActiveCounts :many
-- LimitActiveCounts counts the active runs of a workspace in each given
-- scope, leaving out exclude_ids. Scopes with no active run are absent.
-- Run it in a statement after the LimitLock queries: under READ COMMITTED a
-- statement sees what committed before it started, so the count includes
-- every offer and claim that held the locks before.
WITH active AS MATERIALIZED (
    SELECT a.id, a.pool_id, a.queue_id, a.deployment_id, a.tags,
           coalesce(c.limit_names, '{}'::text[]) AS limit_names
    FROM runs a
    LEFT JOIN deployment_controls c ON c.deployment_id = a.deployment_id
    WHERE a.workspace_id = @workspace_id
      AND (a.state IN ('PENDING', 'RUNNING', 'CANCELLING')
           OR (a.state = 'SCHEDULED' AND a.lease_expire_time > @now::timestamptz))
      AND a.id <> ALL(@exclude_ids::uuid[])
)
SELECT 'pool'::text AS kind, u.pool_id AS id, count(*)::integer AS active
FROM active u WHERE u.pool_id = ANY(@pool_ids::uuid[]) GROUP BY u.pool_id
UNION ALL
SELECT 'queue'::text, u.queue_id, count(*)::integer
FROM active u WHERE u.queue_id = ANY(@queue_ids::uuid[]) GROUP BY u.queue_id
UNION ALL
SELECT 'deployment'::text, u.deployment_id, count(*)::integer
FROM active u WHERE u.deployment_id = ANY(@deployment_ids::uuid[]) GROUP BY u.deployment_id
UNION ALL
SELECT 'limit'::text, l.id, count(*)::integer
FROM concurrency_limits l
JOIN active u ON (cardinality(l.tags) > 0 AND u.tags @> l.tags) OR l.name = ANY(u.limit_names)
WHERE l.id = ANY(@limit_ids::uuid[])
GROUP BY l.id;

-- name: LimitOfferMark :many
-- LimitOfferMark offers the given runs to an agent under fresh lease tokens;
-- a run that another transaction holds, or that is no longer waiting, is
-- skipped.
UPDATE runs
SET agent_id = @agent_id::uuid,
    lease_token = nextval('run_lease_tokens'),
    lease_expire_time = @offer_expire_time,
    update_time = @now::timestamptz
WHERE runs.id IN (
    SELECT w.id FROM runs w
    WHERE w.id = ANY(@ids::uuid[])
      AND w.state = 'SCHEDULED'
      AND (w.lease_expire_time IS NULL OR w.lease_expire_time <= @now::timestamptz)
    ORDER BY w.id
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: LimitCollisionDeployments :many
-- LimitCollisionDeployments locks the controls of the deployments of a
-- workspace that cancel runs on collision and have a due, unoffered run in
-- the pool.
SELECT c.deployment_id, c.concurrency_limit, c.collision_strategy
FROM deployment_controls c
WHERE c.workspace_id = @workspace_id
  AND c.collision_strategy <> 'enqueue'
  AND c.concurrency_limit > 0
  AND NOT c.paused
  AND EXISTS (SELECT 1 FROM runs r
              WHERE r.deployment_id = c.deployment_id
                AND r.pool_id = @pool_id
                AND r.state = 'SCHEDULED'
                AND r.expected_start_time <= @now::timestamptz
                AND (r.lease_expire_time IS NULL OR r.lease_expire_time <= @now::timestamptz))
ORDER BY c.deployment_id
FOR NO KEY UPDATE OF c;

-- name: LimitCollisionRuns :many
-- LimitCollisionRuns lists the active runs and the due, unoffered runs of
-- the given deployments; waiting ones in dispatch order, then active ones
-- oldest first.
SELECT r.id, r.deployment_id, r.state, r.create_time,
       coalesce(r.state = 'SCHEDULED' AND (r.lease_expire_time IS NULL
                                           OR r.lease_expire_time <= @now::timestamptz), false)::boolean AS waiting
FROM runs r
JOIN work_queues q ON q.id = r.queue_id
WHERE r.deployment_id = ANY(@deployment_ids::uuid[])
  AND (r.state IN ('PENDING', 'RUNNING', 'CANCELLING')
       OR (r.state = 'SCHEDULED' AND r.lease_expire_time > @now::timestamptz)
       OR (r.state = 'SCHEDULED' AND r.expected_start_time <= @now::timestamptz AND NOT q.paused))
ORDER BY r.deployment_id, waiting DESC, q.priority DESC, r.priority DESC, r.expected_start_time,
         r.create_time, r.id;

-- name: DeploymentControlsUpsertSpec :exec
-- DeploymentControlsUpsertSpec copies the limit fields of a deployment's
-- current spec; the pause is left as it is.
INSERT INTO deployment_controls (deployment_id, workspace_id, concurrency_limit, collision_strategy,
                                 limit_names, update_time)
VALUES (@deployment_id, @workspace_id, @concurrency_limit, @collision_strategy, @limit_names::text[], @now)
ON CONFLICT (deployment_id) DO UPDATE
SET concurrency_limit = excluded.concurrency_limit,
    collision_strategy = excluded.collision_strategy,
    limit_names = excluded.limit_names,
    update_time = excluded.update_time;

-- name: DeploymentControlsSetPaused :one
INSERT INTO deployment_controls (deployment_id, workspace_id, paused, update_time)
VALUES (@deployment_id, @workspace_id, @paused, @now)
ON CONFLICT (deployment_id) DO UPDATE
SET paused = excluded.paused, update_time = excluded.update_time
RETURNING *;

-- name: DeploymentControlsGet :one
SELECT * FROM deployment_controls WHERE deployment_id = @deployment_id;

-- name: WorkPoolSetPaused :one
UPDATE work_pools SET paused = @paused, update_time = @now
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: WorkQueueSetPaused :one
UPDATE work_queues SET paused = @paused, update_time = @now
WHERE workspace_id = @workspace_id AND id = @id
RETURNING *;

-- name: ConcurrencyLimitUpsert :one
INSERT INTO concurrency_limits (id, workspace_id, name, slots, tags, description, create_time, update_time)
VALUES (@id, @workspace_id, @name, @slots, @tags::text[], @description, @now, @now)
ON CONFLICT (workspace_id, name) DO UPDATE
SET slots = excluded.slots,
    tags = excluded.tags,
    description = excluded.description,
    update_time = CASE
        WHEN (concurrency_limits.slots, concurrency_limits.tags, concurrency_limits.description)
            IS DISTINCT FROM (excluded.slots, excluded.tags, excluded.description)
        THEN excluded.update_time ELSE concurrency_limits.update_time END
RETURNING *;

-- name: ConcurrencyLimitList :many
SELECT * FROM concurrency_limits WHERE workspace_id = @workspace_id ORDER BY name;

-- name: ConcurrencyLimitDelete :execrows
DELETE FROM concurrency_limits WHERE workspace_id = @workspace_id AND name = @name;

-- name: ConcurrencyLimitActiveRuns :many
-- ConcurrencyLimitActiveRuns lists the active runs of a workspace with the
-- named limits each counts against, for ExplainRun and limit listings.
SELECT r.id, r.pool_id, r.queue_id, r.deployment_id, r.state, r.agent_id,
       ARRAY(SELECT l.id FROM concurrency_limits l
             WHERE l.workspace_id = r.workspace_id
               AND ((cardinality(l.tags) > 0 AND r.tags @> l.tags)
                    OR l.name = ANY(coalesce(c.limit_names, '{}'::text[])))
             ORDER BY l.id)::uuid[] AS limit_ids
FROM runs r
LEFT JOIN deployment_controls c ON c.deployment_id = r.deployment_id
WHERE r.workspace_id = @workspace_id
  AND (r.state IN ('PENDING', 'RUNNING', 'CANCELLING')
       OR (r.state = 'SCHEDULED' AND r.lease_expire_time > @now::timestamptz))
ORDER BY r.create_time, r.id;

-- name: LimitRunsAhead :one
-- LimitRunsAhead counts the due, unoffered runs of a pool that the
-- dispatcher would offer before a run with the given sort keys.
SELECT count(*)::integer FROM runs r
JOIN work_queues q ON q.id = r.queue_id
WHERE r.pool_id = @pool_id
  AND r.state = 'SCHEDULED'
  AND r.expected_start_time <= @now::timestamptz
  AND (r.lease_expire_time IS NULL OR r.lease_expire_time <= @now::timestamptz)
  AND NOT q.paused
  AND (q.priority > @queue_priority::integer
       OR (q.priority = @queue_priority::integer
           AND (r.priority > @run_priority::integer
                OR (r.priority = @run_priority::integer
                    AND (r.expected_start_time, r.id) < (@expected_start_time::timestamptz, @run_id::uuid)))));

-- name: LimitRunScopesAll :many
-- LimitRunScopesAll returns every run with every limit it counts against
-- now. Only the invariant checker uses it, in tests.
SELECT r.id, r.pool_id, r.queue_id, r.deployment_id,
       p.concurrency_limit AS pool_limit,
       q.concurrency_limit AS queue_limit,
       coalesce(c.concurrency_limit, 0)::integer AS deployment_limit,
       ARRAY(SELECT l.id FROM concurrency_limits l
             WHERE l.workspace_id = r.workspace_id
               AND ((cardinality(l.tags) > 0 AND r.tags @> l.tags)
                    OR l.name = ANY(coalesce(c.limit_names, '{}'::text[])))
             ORDER BY l.id)::uuid[] AS limit_ids
FROM runs r
JOIN work_pools p ON p.id = r.pool_id
JOIN work_queues q ON q.id = r.queue_id
LEFT JOIN deployment_controls c ON c.deployment_id = r.deployment_id
ORDER BY r.id;

-- name: ConcurrencyLimitListAll :many
-- ConcurrencyLimitListAll returns the named limits of every workspace. Only
-- the invariant checker uses it, in tests.
SELECT * FROM concurrency_limits ORDER BY id;

-- name: LimitAgentRoom :one
-- LimitAgentRoom says whether an agent is draining (as its last subscribe
-- or heartbeat said, whichever replica received it, or because an operator
-- asked it to) and how many runs it holds: leased, or offered under a live
-- offer.
SELECT (a.draining OR a.drain_requested)::boolean AS draining,
       (SELECT count(*) FROM runs r
        WHERE r.agent_id = a.id
          AND (r.state IN ('PENDING', 'RUNNING', 'CANCELLING')
               OR (r.state = 'SCHEDULED' AND r.lease_expire_time > @now::timestamptz)))::integer AS held
FROM agents a
WHERE a.id = @agent_id;
