-- name: RunListAllStates :many
-- RunListAllStates returns the current state of every run in every
-- workspace. Only the invariant checker uses it, in tests.
SELECT id, state, state_name, attempt, lease_token FROM runs ORDER BY id;

-- name: LogLinesSummaryAll :many
-- LogLinesSummaryAll counts the stored log lines of every run attempt and
-- gives their lowest and highest sequence numbers. Only the invariant
-- checker uses it, in tests.
SELECT run_id, attempt, count(*)::bigint AS lines, min(seq)::bigint AS min_seq,
       max(seq)::bigint AS max_seq
FROM run_log_lines
GROUP BY run_id, attempt
ORDER BY run_id, attempt;
