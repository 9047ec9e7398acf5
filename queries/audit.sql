-- name: AuditEventInsert :exec
INSERT INTO audit_events (
    workspace_id, time, request_id, actor, actor_kind, procedure,
    resource, decision, reason, code, source_addr
) VALUES (
    sqlc.narg(workspace_id), @time, @request_id, @actor, @actor_kind, @procedure,
    @resource, @decision, @reason, @code, @source_addr
);

-- name: AuditEventList :many
-- AuditEventList pages a workspace's events newest first, keyed on
-- (time, id) so a page boundary never skips or repeats a row; it reads
-- audit_events_list_idx.
SELECT * FROM audit_events e
WHERE e.workspace_id = @workspace_id::uuid
  AND (sqlc.narg(actor)::text IS NULL OR e.actor = sqlc.narg(actor))
  AND (sqlc.narg(procedure)::text IS NULL OR e.procedure = sqlc.narg(procedure))
  AND (sqlc.narg(decision)::text IS NULL OR e.decision = sqlc.narg(decision))
  AND (sqlc.narg(resource)::text IS NULL OR e.resource = sqlc.narg(resource))
  AND (sqlc.narg(start_time)::timestamptz IS NULL OR e.time >= sqlc.narg(start_time))
  AND (sqlc.narg(end_time)::timestamptz IS NULL OR e.time < sqlc.narg(end_time))
  AND (sqlc.narg(cursor_time)::timestamptz IS NULL
       OR (e.time, e.id) < (sqlc.narg(cursor_time)::timestamptz, sqlc.narg(cursor_id)::bigint))
ORDER BY e.time DESC, e.id DESC
LIMIT @page_limit;
