-- name: LogLinesInsert :execrows
-- LogLinesInsert stores log lines; lines already stored are skipped, so a
-- resent batch is stored once.
INSERT INTO run_log_lines (run_id, attempt, seq, stream, text, time, truncated)
SELECT unnest(@run_ids::uuid[]), unnest(@attempts::integer[]), unnest(@seqs::bigint[]),
       unnest(@streams::smallint[]), unnest(@texts::text[]), unnest(@times::timestamptz[]),
       unnest(@truncated::boolean[])
ON CONFLICT (run_id, attempt, seq) DO NOTHING;

-- name: LogLinesList :many
SELECT * FROM run_log_lines
WHERE run_id = @run_id
  AND (@attempt::integer = 0 OR attempt = @attempt::integer)
  AND (attempt, seq) > (@after_attempt::integer, @after_seq::bigint)
ORDER BY attempt, seq
LIMIT @page_limit;

-- name: LogLinesListAll :many
-- LogLinesListAll returns every stored line of a run; used by the invariant checker.
SELECT * FROM run_log_lines WHERE run_id = @run_id ORDER BY attempt, seq;

-- name: LogLinesCursors :many
-- LogLinesCursors says how far the stored log of each given attempt goes.
SELECT l.run_id, l.attempt, max(l.seq)::bigint AS last_seq,
       (count(*) FILTER (WHERE l.stream IN (1, 2)))::bigint AS output_lines
FROM run_log_lines l
WHERE l.run_id = ANY(@run_ids::uuid[])
GROUP BY l.run_id, l.attempt;
