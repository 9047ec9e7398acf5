-- Ferry's initial schema. Every table is scoped by workspace; times are
-- stamped by the control plane (passed in as parameters), never by now().

CREATE TABLE workspaces (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    create_time timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id            uuid        PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id),
    name          text        NOT NULL,
    prefix        text        NOT NULL UNIQUE,
    secret_hash   bytea       NOT NULL,
    role          text        NOT NULL,
    create_time   timestamptz NOT NULL,
    expire_time   timestamptz,
    revoke_time   timestamptz,
    last_use_time timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

CREATE TABLE work_pools (
    id                uuid        PRIMARY KEY,
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id),
    name              text        NOT NULL,
    type              text        NOT NULL CHECK (type IN ('process', 'docker', 'ecs')),
    description       text        NOT NULL DEFAULT '',
    paused            boolean     NOT NULL DEFAULT false,
    concurrency_limit integer     NOT NULL DEFAULT 0 CHECK (concurrency_limit >= 0),
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE work_queues (
    id                uuid        PRIMARY KEY,
    workspace_id      uuid        NOT NULL REFERENCES workspaces (id),
    pool_id           uuid        NOT NULL REFERENCES work_pools (id) ON DELETE CASCADE,
    name              text        NOT NULL,
    priority          integer     NOT NULL DEFAULT 0,
    paused            boolean     NOT NULL DEFAULT false,
    concurrency_limit integer     NOT NULL DEFAULT 0 CHECK (concurrency_limit >= 0),
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    UNIQUE (pool_id, name)
);

CREATE TABLE agent_tokens (
    id            uuid        PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id),
    pool_id       uuid        NOT NULL REFERENCES work_pools (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    prefix        text        NOT NULL UNIQUE,
    secret_hash   bytea       NOT NULL,
    create_time   timestamptz NOT NULL,
    revoke_time   timestamptz,
    last_use_time timestamptz
);
CREATE INDEX agent_tokens_pool_idx ON agent_tokens (pool_id);

CREATE TABLE agents (
    id                  uuid        PRIMARY KEY,
    workspace_id        uuid        NOT NULL REFERENCES workspaces (id),
    pool_id             uuid        NOT NULL REFERENCES work_pools (id) ON DELETE CASCADE,
    name                text        NOT NULL,
    version             text        NOT NULL DEFAULT '',
    capacity            integer     NOT NULL DEFAULT 1,
    session_id          uuid        NOT NULL,
    token_id            uuid        NOT NULL REFERENCES agent_tokens (id) ON DELETE CASCADE,
    draining            boolean     NOT NULL DEFAULT false,
    connect_time        timestamptz NOT NULL,
    last_heartbeat_time timestamptz NOT NULL,
    disconnect_time     timestamptz,
    UNIQUE (pool_id, name)
);
CREATE INDEX agents_token_idx ON agents (token_id);

CREATE TABLE deployments (
    id              uuid        PRIMARY KEY,
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id),
    name            text        NOT NULL,
    pool_id         uuid        NOT NULL REFERENCES work_pools (id),
    queue_id        uuid        NOT NULL REFERENCES work_queues (id),
    current_version integer     NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    delete_time     timestamptz
);
CREATE UNIQUE INDEX deployments_name_idx ON deployments (workspace_id, name) WHERE delete_time IS NULL;
CREATE INDEX deployments_pool_idx ON deployments (pool_id);
CREATE INDEX deployments_queue_idx ON deployments (queue_id);

CREATE TABLE deployment_versions (
    deployment_id uuid        NOT NULL REFERENCES deployments (id),
    version       integer     NOT NULL,
    -- spec is the protojson form of ferry.v1.DeploymentSpec.
    spec          jsonb       NOT NULL,
    spec_hash     text        NOT NULL,
    created_by    text        NOT NULL,
    create_time   timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, version)
);

-- Every claim takes a fresh fencing token from this sequence.
CREATE SEQUENCE run_lease_tokens;

CREATE TABLE runs (
    id                  uuid        PRIMARY KEY,
    workspace_id        uuid        NOT NULL REFERENCES workspaces (id),
    deployment_id       uuid        NOT NULL REFERENCES deployments (id),
    deployment_version  integer     NOT NULL,
    pool_id             uuid        NOT NULL REFERENCES work_pools (id),
    queue_id            uuid        NOT NULL REFERENCES work_queues (id),
    state               text        NOT NULL CHECK (state IN ('SCHEDULED', 'PENDING', 'RUNNING',
                            'COMPLETED', 'FAILED', 'CRASHED', 'CANCELLING', 'CANCELLED')),
    state_name          text        NOT NULL,
    state_message       text        NOT NULL DEFAULT '',
    attempt             integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    max_attempts        integer     NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    parameters          jsonb       NOT NULL,
    idempotency_key     text,
    priority            integer     NOT NULL DEFAULT 0,
    tags                text[]      NOT NULL DEFAULT '{}',
    expected_start_time timestamptz NOT NULL,
    start_time          timestamptz,
    end_time            timestamptz,
    create_time         timestamptz NOT NULL,
    update_time         timestamptz NOT NULL,
    created_by          text        NOT NULL,
    -- agent_id holds the agent a run is offered to or leased by.
    agent_id            uuid        REFERENCES agents (id) ON DELETE SET NULL,
    lease_token         bigint      NOT NULL DEFAULT 0,
    -- lease_expire_time ends an offer (SCHEDULED) or a lease (PENDING, RUNNING, CANCELLING).
    lease_expire_time   timestamptz,
    exit_code           integer,
    infrastructure_id   text        NOT NULL DEFAULT '',
    parent_run_id       uuid        REFERENCES runs (id),
    retry_delay_ms      bigint      NOT NULL DEFAULT 0,
    retry_on            integer     NOT NULL DEFAULT 7,
    timeout_ms          bigint      NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX runs_idempotency_idx ON runs (deployment_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_dispatch_idx ON runs (pool_id, priority DESC, expected_start_time, id)
    WHERE state = 'SCHEDULED';
CREATE INDEX runs_lease_idx ON runs (lease_expire_time)
    WHERE lease_expire_time IS NOT NULL;
CREATE INDEX runs_list_idx ON runs (workspace_id, create_time DESC, id DESC);
CREATE INDEX runs_deployment_idx ON runs (deployment_id, create_time DESC, id DESC);
CREATE INDEX runs_active_deployment_idx ON runs (deployment_id)
    WHERE state IN ('SCHEDULED', 'PENDING', 'RUNNING', 'CANCELLING');
CREATE INDEX runs_agent_idx ON runs (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX runs_queue_idx ON runs (queue_id);
CREATE INDEX runs_parent_idx ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE TABLE run_state_changes (
    id           bigserial   PRIMARY KEY,
    run_id       uuid        NOT NULL REFERENCES runs (id),
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    attempt      integer     NOT NULL,
    from_state   text,
    to_state     text        NOT NULL,
    to_name      text        NOT NULL,
    message      text        NOT NULL DEFAULT '',
    actor        text        NOT NULL,
    lease_token  bigint      NOT NULL DEFAULT 0,
    time         timestamptz NOT NULL
);
CREATE INDEX run_state_changes_run_idx ON run_state_changes (run_id, id);
CREATE INDEX run_state_changes_workspace_idx ON run_state_changes (workspace_id);

-- The state history is append-only.
CREATE FUNCTION ferry_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER run_state_changes_append_only
    BEFORE UPDATE OR DELETE ON run_state_changes
    FOR EACH ROW EXECUTE FUNCTION ferry_forbid_change();

-- Log lines are keyed by (run, attempt, seq) so a resent batch is stored once.
CREATE TABLE run_log_lines (
    run_id    uuid        NOT NULL,
    attempt   integer     NOT NULL,
    seq       bigint      NOT NULL,
    stream    smallint    NOT NULL,
    text      text        NOT NULL,
    time      timestamptz NOT NULL,
    truncated boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, attempt, seq)
);
