-- An operator may ask an agent to drain: the dispatcher offers it no new
-- runs while its running runs finish. The request is the operator's, kept
-- apart from the draining flag the agent reports itself, so that the
-- agent's heartbeats never clear it; it lasts until an operator lifts it.
ALTER TABLE agents
    ADD COLUMN drain_requested      boolean     NOT NULL DEFAULT false,
    ADD COLUMN drain_requested_by   text        NOT NULL DEFAULT '',
    ADD COLUMN drain_request_time   timestamptz;
