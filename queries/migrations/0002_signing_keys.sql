-- The Ed25519 keys the control plane signs work orders with. They belong to
-- the installation, not to a workspace. A private key is stored only sealed
-- (AES-256-GCM under a key-encryption key that never enters the database).
--
-- The key that signs is the last by (activate_time, seq) among those not
-- retired whose activate_time has passed; older unretired keys stay trusted
-- by agents; seq orders keys activated at the same instant by creation.
-- Which key is active depends on the time, so no index can make it unique:
-- every change to this table takes the SigningKeyLock advisory lock instead.
CREATE TABLE signing_keys (
    id                 text        PRIMARY KEY CHECK (id ~ '^fk_[a-z2-7]{10}$'),
    seq                bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    public_key         bytea       NOT NULL CHECK (length(public_key) = 32),
    private_key_sealed bytea       NOT NULL,
    create_time        timestamptz NOT NULL,
    activate_time      timestamptz NOT NULL,
    retire_time        timestamptz,
    CHECK (activate_time >= create_time),
    CHECK (retire_time IS NULL OR retire_time >= create_time)
);
CREATE INDEX signing_keys_activate_idx ON signing_keys (activate_time, seq);
