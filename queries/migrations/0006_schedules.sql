-- Schedules: several per deployment, each creating runs ahead of time. A run
-- made by a schedule records the schedule and its nominal time, and the
-- unique index below makes (schedule, nominal time) produce at most one run
-- however many schedulers race.

CREATE TABLE schedules (
    id                uuid        PRIMARY KEY,
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id),
    deployment_id     uuid        NOT NULL REFERENCES deployments (id),
    name              text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('cron', 'interval', 'rrule')),
    -- expression is the cron expression or the RRULE text; empty for interval.
    expression        text        NOT NULL DEFAULT '',
    -- zone is the IANA time zone the expression is read in.
    zone              text        NOT NULL DEFAULT 'UTC',
    -- anchor_time is the first instant of an interval schedule, or DTSTART of an RRULE.
    anchor_time       timestamptz,
    interval_ms       bigint      NOT NULL DEFAULT 0 CHECK (interval_ms >= 0),
    -- parameters is a JSON object, kept as given, merged over the deployment's
    -- default parameters.
    parameters        text        NOT NULL DEFAULT '{}',
    active            boolean     NOT NULL DEFAULT true,
    jitter_ms         bigint      NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0),
    catch_up          text        NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'latest', 'all')),
    catch_up_limit    integer     NOT NULL DEFAULT 0 CHECK (catch_up_limit >= 0),
    -- drop_after_ms drops a missed fire time older than this; 0 keeps all.
    drop_after_ms     bigint      NOT NULL DEFAULT 0 CHECK (drop_after_ms >= 0),
    -- last_nominal_time is the scheduler's cursor: every fire time at or
    -- before it has had its run created, or was dropped by the catch-up policy.
    last_nominal_time timestamptz NOT NULL,
    created_by        text        NOT NULL,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    UNIQUE (deployment_id, name)
);
CREATE INDEX schedules_workspace_idx ON schedules (workspace_id, deployment_id, name);
CREATE INDEX schedules_active_idx ON schedules (id) WHERE active;

ALTER TABLE runs
    ADD COLUMN schedule_id  uuid REFERENCES schedules (id) ON DELETE SET NULL,
    ADD COLUMN nominal_time timestamptz;
CREATE UNIQUE INDEX runs_schedule_nominal_idx ON runs (schedule_id, nominal_time)
    WHERE schedule_id IS NOT NULL;
