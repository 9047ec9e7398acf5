-- Identities: people with passwords, service accounts, their memberships in
-- workspaces, browser sessions, and the failed logins that rate-limit
-- password guessing across replicas. API keys gain an owner, a creator and
-- a hash version.
--
-- No column here ever holds a password, a session token or a key in clear:
-- passwords are argon2id PHC strings, tokens and keys are stored as an
-- HMAC-SHA256 under a server secret (the pepper) that never enters the
-- database.

-- users are people (kind 'human', who log in with an email and a password)
-- and service accounts (kind 'service', no password, owners of API keys and
-- scoped to one workspace). Emails are stored case-folded.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('human', 'service')),
    email         text        UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name  text        NOT NULL,
    password_hash text        CHECK (password_hash LIKE '$argon2id$%'),
    workspace_id  uuid        REFERENCES workspaces (id),
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL,
    CHECK (kind = 'human' AND email IS NOT NULL AND workspace_id IS NULL
        OR kind = 'service' AND email IS NULL AND password_hash IS NULL AND workspace_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_service_name_idx ON users (workspace_id, display_name) WHERE kind = 'service';

-- memberships give a user a role in a workspace.
CREATE TABLE memberships (
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    role         text        NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'operator', 'viewer')),
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);
CREATE INDEX memberships_workspace_idx ON memberships (workspace_id);

-- sessions are browser (or CLI) logins of a user into one workspace. The
-- token is ferry_ss_<prefix>_<secret>; secret_hash is its HMAC under the
-- pepper. A session ends at expire_time, after idle_timeout without use,
-- or when revoked.
CREATE TABLE sessions (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id),
    prefix        text        NOT NULL UNIQUE,
    secret_hash   bytea       NOT NULL,
    source_addr   text        NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL,
    last_use_time timestamptz NOT NULL,
    expire_time   timestamptz NOT NULL,
    revoke_time   timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- login_failures records each failed login, keyed by the HMAC of the
-- case-folded email (known or not, so that lockouts reveal nothing), and
-- is counted over a sliding window by every replica.
CREATE TABLE login_failures (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key bytea       NOT NULL,
    fail_time   timestamptz NOT NULL
);
CREATE INDEX login_failures_account_idx ON login_failures (account_key, fail_time);

-- hash_version 1 is the SHA-256 of the key (keys issued before 0003);
-- version 2 is HMAC-SHA256 under the pepper. A version 1 key is rehashed to
-- version 2 on its first successful use.
ALTER TABLE api_keys
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2)),
    ADD COLUMN user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN created_by   text NOT NULL DEFAULT '',
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('owner', 'admin', 'developer', 'operator', 'viewer'));

ALTER TABLE agent_tokens
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
