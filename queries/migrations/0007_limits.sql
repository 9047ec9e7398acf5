-- Concurrency limits and deployment pause.
--
-- Slots are never stored: a limit's use is counted from the runs table
-- (PENDING, RUNNING, CANCELLING, and SCHEDULED runs under a live offer)
-- each time an offer or a claim is decided, so a slot cannot leak. The rows
-- below hold only the limits themselves, and the offer and claim
-- transactions lock them to serialise the counting.

-- deployment_controls holds what governs a deployment's runs besides its
-- versioned spec: the operational pause, and the limit fields of the current
-- spec (copied here on apply, so the dispatcher never decodes a spec). A
-- deployment without a row is not paused and has no limit.
CREATE TABLE deployment_controls (
    deployment_id      uuid        PRIMARY KEY REFERENCES deployments (id),
    workspace_id       uuid        NOT NULL REFERENCES workspaces (id),
    paused             boolean     NOT NULL DEFAULT false,
    concurrency_limit  integer     NOT NULL DEFAULT 0 CHECK (concurrency_limit >= 0),
    collision_strategy text        NOT NULL DEFAULT 'enqueue'
                           CHECK (collision_strategy IN ('enqueue', 'cancel_new', 'cancel_oldest')),
    -- limit_names lists the named limits (concurrency_limits.name) the
    -- deployment's runs count against.
    limit_names        text[]      NOT NULL DEFAULT '{}',
    update_time        timestamptz NOT NULL
);
CREATE INDEX deployment_controls_workspace_idx ON deployment_controls (workspace_id);

-- concurrency_limits are named limits of a workspace. A run counts against
-- one when it carries every tag of the limit's selector (an empty selector
-- matches by name only) or when its deployment lists the limit by name.
CREATE TABLE concurrency_limits (
    id           uuid        PRIMARY KEY,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    name         text        NOT NULL,
    slots        integer     NOT NULL CHECK (slots >= 1),
    tags         text[]      NOT NULL DEFAULT '{}',
    description  text        NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    UNIQUE (workspace_id, name)
);

-- runs_active_idx finds the runs that may hold a slot. A SCHEDULED run with
-- a lease_expire_time is offered (or its offer lapsed and awaits the
-- reaper); the queries compare the time with "now" on top of this.
CREATE INDEX runs_active_idx ON runs (workspace_id)
    WHERE state IN ('PENDING', 'RUNNING', 'CANCELLING')
       OR (state = 'SCHEDULED' AND lease_expire_time IS NOT NULL);
