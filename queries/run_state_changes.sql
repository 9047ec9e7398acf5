-- name: RunStateChangeInsertCreated :exec
-- RunStateChangeInsertCreated records the creation of many runs at once.
INSERT INTO run_state_changes (run_id, workspace_id, attempt, from_state, to_state, to_name,
                               message, actor, lease_token, time)
SELECT u.id, @workspace_id, 1, NULL, 'SCHEDULED', 'Scheduled', '', @actor, 0, @now
FROM unnest(@run_ids::uuid[]) AS u(id);

-- name: RunStateChangeList :many
SELECT * FROM run_state_changes WHERE run_id = @run_id ORDER BY id;

-- name: RunStateChangeListAll :many
-- RunStateChangeListAll returns every history entry; used by the invariant checker.
SELECT * FROM run_state_changes ORDER BY run_id, id;

-- name: RunStateChangeLastEnded :one
-- RunStateChangeLastEnded finds how the newest leased attempt of a run ended,
-- so a repeated report about it is recognised.
SELECT lease_token, to_state, to_name, attempt, actor FROM run_state_changes
WHERE run_id = @run_id AND lease_token <> 0
  AND to_state IN ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED')
ORDER BY id DESC
LIMIT 1;

-- name: RunStateChangeInsertMany :exec
-- RunStateChangeInsertMany records many transitions in one statement, in
-- the order given by ords (ids follow it); an empty from_state stands for NULL.
INSERT INTO run_state_changes (run_id, workspace_id, attempt, from_state, to_state, to_name,
                               message, actor, lease_token, time)
SELECT u.run_id, u.workspace_id, u.attempt, nullif(u.from_state, ''), u.to_state, u.to_name,
       u.message, u.actor, u.lease_token, @now
FROM (SELECT unnest(@run_ids::uuid[]) AS run_id,
             unnest(@workspace_ids::uuid[]) AS workspace_id,
             unnest(@attempts::integer[]) AS attempt,
             unnest(@from_states::text[]) AS from_state,
             unnest(@to_states::text[]) AS to_state,
             unnest(@to_names::text[]) AS to_name,
             unnest(@messages::text[]) AS message,
             unnest(@actors::text[]) AS actor,
             unnest(@lease_tokens::bigint[]) AS lease_token,
             unnest(@ords::integer[]) AS ord) AS u
ORDER BY u.ord;
