-- Seeds runs $5 to $6 - 1 of $2 into workspace $1, spread evenly over the
-- $4 seconds before $3, over the workspace's deployments (see runseed.go).
WITH d AS (
    SELECT row_number() OVER (ORDER BY dep.name) - 1 AS k,
           dep.id, dep.pool_id, dep.queue_id, dep.current_version,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(v.spec -> 'tags', '[]'))) AS tags
    FROM deployments dep
    JOIN deployment_versions v ON v.deployment_id = dep.id AND v.version = dep.current_version
    WHERE dep.workspace_id = $1 AND dep.delete_time IS NULL
), n AS (
    SELECT count(*) AS deployments FROM d
), g AS (
    -- h1, h2 and h3 are independent pseudo-random numbers of run i: it
    -- picks its deployment from h1, its state from h2, its tags from h3.
    SELECT i,
           (i * 2654435761) % 4294967291 AS h1,
           (i * 2246822519) % 4294967291 AS h2,
           (i * 3266489917) % 4294967291 AS h3,
           $3::timestamptz - make_interval(secs => $4::float8 * i / $2) AS t
    FROM generate_series($5::bigint, $6::bigint - 1) AS i
), r AS (
    -- Deployment k takes half the runs left by deployments 0 to k-1 (the
    -- last one takes all that remain); 85% of the runs are COMPLETED.
    SELECT g.i, g.t, g.h3,
           least((SELECT deployments FROM n) - 1,
                 floor(-ln(1 - g.h1::float8 / 4294967291) / ln(2)))::bigint AS k,
           CASE WHEN g.h2 % 1000 < 850 THEN 'COMPLETED'
                WHEN g.h2 % 1000 < 900 THEN 'FAILED'
                WHEN g.h2 % 1000 < 910 THEN 'CRASHED'
                WHEN g.h2 % 1000 < 930 THEN 'CANCELLED'
                WHEN g.h2 % 1000 < 935 THEN 'CANCELLING'
                WHEN g.h2 % 1000 < 955 THEN 'RUNNING'
                WHEN g.h2 % 1000 < 970 THEN 'PENDING'
                ELSE 'SCHEDULED' END AS state,
           -- A tenth of the SCHEDULED runs await a retry, so are never Late.
           g.h2 / 1000 % 10 = 0 AS retrying
    FROM g
)
INSERT INTO runs (id, workspace_id, deployment_id, deployment_version, pool_id, queue_id,
                  state, state_name, attempt, max_attempts, parameters, tags,
                  expected_start_time, start_time, end_time, create_time, update_time, created_by)
SELECT gen_random_uuid(), $1, d.id, d.current_version, d.pool_id, d.queue_id,
       r.state,
       CASE r.state WHEN 'SCHEDULED' THEN CASE WHEN r.retrying THEN 'AwaitingRetry' ELSE 'Scheduled' END
                    WHEN 'PENDING' THEN 'Pending'
                    WHEN 'RUNNING' THEN 'Running'
                    WHEN 'COMPLETED' THEN 'Completed'
                    WHEN 'FAILED' THEN 'Failed'
                    WHEN 'CRASHED' THEN 'Crashed'
                    WHEN 'CANCELLING' THEN 'Cancelling'
                    ELSE 'Cancelled' END,
       1, 1, '{}',
       d.tags || ARRAY['env-' || CASE WHEN r.h3 / 100 % 10 = 0 THEN 'dev' ELSE 'prod' END,
                       'shard-' || r.h3 % 100]
              || CASE WHEN r.h3 / 1000 % 10000 = 7 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END,
       r.t,
       CASE WHEN r.state <> 'SCHEDULED' THEN r.t + interval '5 seconds' END,
       CASE WHEN r.state IN ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED') THEN r.t + interval '65 seconds' END,
       r.t, r.t, 'runseed'
FROM r JOIN d ON d.k = r.k;
