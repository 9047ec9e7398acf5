-- name: LogLinesInsert :execrows
-- LogLinesInsert stores log lines; lines already stored are skipped, so a
-- resent batch is stored once.
INSERT INTO run_log_lines (run_id, attempt, seq, stream, text, time, truncated)
SELECT unnest(@run_ids::uuid[]), unnest(@attempts::integer[]), unnest(@seqs::bigint[]),
       unnest(@streams::smallint[]), unnest(@texts::text[]), unnest(@times::timestamptz[]),
       unnest(@truncated::boolean[])
ON CONFLICT (run_id, attempt, seq) DO NOTHING;

-- name: LogLinesList :many
-- LogLinesList returns a run's lines between two positions (both left out),
-- in log order: a forward range scan of the primary key (run_id, attempt,
-- seq). One attempt is selected by its bounds, not by an equality on
-- attempt, which the index scan could not combine with the row comparison
-- and would start at the attempt's first line instead of after_seq.
SELECT * FROM run_log_lines
WHERE run_id = @run_id
  AND (attempt, seq) > (@after_attempt::integer, @after_seq::bigint)
  AND (attempt, seq) < (@before_attempt::integer, @before_seq::bigint)
ORDER BY attempt, seq
LIMIT @page_limit;

-- name: LogLinesListBefore :many
-- LogLinesListBefore returns a run's lines between two positions (both left
-- out), the last first: a backward range scan of the primary key (run_id,
-- attempt, seq), so the tail of a long log is read without touching its
-- beginning. One attempt is selected by its bounds, as in LogLinesList.
SELECT * FROM run_log_lines
WHERE run_id = @run_id
  AND (attempt, seq) > (@after_attempt::integer, @after_seq::bigint)
  AND (attempt, seq) < (@before_attempt::integer, @before_seq::bigint)
ORDER BY attempt DESC, seq DESC
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
