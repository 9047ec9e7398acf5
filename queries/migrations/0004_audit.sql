-- The audit trail: one row for every mutating call and every denied call.
-- Rows name who called (actor), what (procedure, resource), what was decided
-- and why, and what the call answered. They never hold a request body, a
-- secret, a key or a password: resources are names and ids only.
--
-- workspace_id is NULL for calls that never authenticated (a wrong, expired
-- or revoked credential), since the caller's workspace is not known.
CREATE TABLE audit_events (
    id           bigserial   PRIMARY KEY,
    workspace_id uuid        REFERENCES workspaces (id),
    time         timestamptz NOT NULL,
    request_id   text        NOT NULL,
    -- actor is the principal's subject ("apikey:abcd…"), or "anonymous".
    actor        text        NOT NULL,
    actor_kind   text        NOT NULL,
    procedure    text        NOT NULL,
    resource     text        NOT NULL DEFAULT '',
    decision     text        NOT NULL CHECK (decision IN ('allow', 'deny', 'none')),
    reason       text        NOT NULL DEFAULT '',
    -- code is the Connect code of the result ("ok" on success).
    code         text        NOT NULL,
    source_addr  text        NOT NULL DEFAULT ''
);
-- AuditEventList pages a workspace's events newest first; this index serves
-- the order and the time range, the other filters are checked on its rows.
CREATE INDEX audit_events_list_idx ON audit_events (workspace_id, time DESC, id DESC);

-- Append-only, twice over.
--
-- The REVOKE takes UPDATE, DELETE and TRUNCATE away from every role that is
-- not the table's owner. It does not bind the owner, nor a superuser: the
-- owner may grant its own rights back at any time, and a superuser bypasses
-- privileges entirely. The control plane normally
-- connects as the owner (it ran this migration), and embedded mode connects
-- as the cluster's superuser, so for Ferry itself the trigger below is what
-- actually refuses a change: it fires for every role, owner or superuser,
-- and only someone who can drop the trigger (the owner, deliberately, in
-- DDL that leaves a trace in the server log) can get around it. TRUNCATE
-- does not fire row triggers, hence the statement-level trigger as well.
--
-- In production, run the control plane as a separate application role that
-- does not own the schema, so that not even dropping the trigger is open to
-- it. As the owner (here ferry_owner), once, after migrating:
--
--     CREATE ROLE ferry_app LOGIN PASSWORD '…';
--     GRANT USAGE ON SCHEMA public TO ferry_app;
--     GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ferry_app;
--     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ferry_app;
--     REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM ferry_app;
--     ALTER DEFAULT PRIVILEGES FOR ROLE ferry_owner IN SCHEMA public
--         GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ferry_app;
--     ALTER DEFAULT PRIVILEGES FOR ROLE ferry_owner IN SCHEMA public
--         GRANT USAGE, SELECT ON SEQUENCES TO ferry_app;
--
-- then give the server ferry_app's --database-url and run `ferry migrate`
-- with ferry_owner's. ferry_app may then only INSERT and SELECT audit rows.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION ferry_forbid_change();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_forbid_change();
