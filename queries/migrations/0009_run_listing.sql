-- Indexes of the runs page and the runs dashboard of the web UI.
--
-- ListRuns returns runs newest first, (create_time, id) descending, and
-- pages with a keyset cursor. Each filter it offers is served by an index
-- that yields rows in that order or by one that finds few rows:
--   no filter, time range           runs_list_idx        (0001)
--   deployment                      runs_deployment_idx  (0001)
--   one state                       runs_state_list_idx
--   deployment and one state        runs_deployment_state_idx
--   tags                            runs_tags_idx
--   late                            runs_late_idx, or runs_state_list_idx
-- GetRunStats counts the runs of one window with runs_state_list_idx (one
-- range per state), the Late runs with runs_late_idx and the recent
-- failures with runs_failed_end_idx, so none of them reads the whole table.
--
-- Known limitation: the indexes are built inside the migration's
-- transaction (CREATE INDEX, not CONCURRENTLY), so on a large existing runs
-- table the migration blocks writes to runs while it builds them.

CREATE INDEX runs_state_list_idx ON runs (workspace_id, state, create_time DESC, id DESC);

CREATE INDEX runs_deployment_state_idx ON runs (deployment_id, state, create_time DESC, id DESC);

-- A run carries its deployment's tags and those given at creation; a tag
-- filter asks for tags @> ARRAY[...]. GIN returns matches unordered, so the
-- planner weighs sorting them against walking runs_list_idx until a page is
-- full; a larger statistics sample keeps rare tags in the element
-- statistics, so that it knows when a tag is rare.
CREATE INDEX runs_tags_idx ON runs USING gin (tags);
ALTER TABLE runs ALTER COLUMN tags SET STATISTICS 1000;

-- The runs that can be Late, newest first: SCHEDULED and not awaiting a
-- retry. A run is Late once its expected start is past by the server's
-- late-after margin; the included expected_start_time lets the late filter
-- and the dashboard's count of Late runs read the index alone.
CREATE INDEX runs_late_idx ON runs (workspace_id, create_time DESC, id DESC)
    INCLUDE (expected_start_time)
    WHERE state = 'SCHEDULED' AND state_name = 'Scheduled';

-- Failed and crashed runs by when they ended, for "failures in the last day".
CREATE INDEX runs_failed_end_idx ON runs (workspace_id, end_time)
    WHERE state IN ('FAILED', 'CRASHED');
