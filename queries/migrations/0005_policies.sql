-- Workspace policies: Rego that a workspace adds on top of the built-in
-- authorization and admission policies. A policy is named per workspace and
-- kind; each upload adds an immutable version; at most one version of a
-- policy is active (active_version, NULL when none).
CREATE TABLE policies (
    id             uuid        PRIMARY KEY,
    workspace_id   uuid        NOT NULL REFERENCES workspaces (id),
    kind           text        NOT NULL CHECK (kind IN ('authz', 'admission')),
    name           text        NOT NULL CHECK (name ~ '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
    latest_version integer     NOT NULL CHECK (latest_version >= 1),
    active_version integer     CHECK (active_version BETWEEN 1 AND latest_version),
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL,
    UNIQUE (workspace_id, kind, name)
);

-- policy_versions rows are never changed or removed: the trigger below
-- refuses it, so what was evaluated can always be shown.
CREATE TABLE policy_versions (
    policy_id    uuid        NOT NULL REFERENCES policies (id),
    version      integer     NOT NULL CHECK (version >= 1),
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    source       text        NOT NULL CHECK (octet_length(source) <= 65536),
    sha256       bytea       NOT NULL CHECK (length(sha256) = 32),
    created_by   text        NOT NULL,
    create_time  timestamptz NOT NULL,
    PRIMARY KEY (policy_id, version)
);
CREATE INDEX policy_versions_workspace_idx ON policy_versions (workspace_id);

ALTER TABLE policies ADD CONSTRAINT policies_active_version_fkey
    FOREIGN KEY (id, active_version) REFERENCES policy_versions (policy_id, version);

CREATE FUNCTION policy_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'policy versions are immutable' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER policy_versions_immutable BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION policy_versions_immutable();

-- policy_generations counts the changes to the set of active policies of a
-- workspace and kind. Evaluators cache compiled policies by generation; each
-- change also sends a ferry_policy_changed notification.
CREATE TABLE policy_generations (
    workspace_id uuid    NOT NULL REFERENCES workspaces (id),
    kind         text    NOT NULL CHECK (kind IN ('authz', 'admission')),
    generation   bigint  NOT NULL CHECK (generation >= 1),
    PRIMARY KEY (workspace_id, kind)
);
