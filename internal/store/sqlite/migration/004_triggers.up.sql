-- The triggers of saved pipelines, indexed by what deliveries address them
-- by, with each one's last firing; rewritten when the pipeline is saved.
CREATE TABLE pipeline_trigger (
    pipeline_id       TEXT NOT NULL,
    trigger_key       TEXT NOT NULL, -- the trigger's id, or #<position>
    position          INTEGER NOT NULL,
    type              TEXT NOT NULL,
    source            TEXT NOT NULL,
    enabled           INTEGER NOT NULL,
    application       TEXT NOT NULL,
    pipeline_name     TEXT NOT NULL,
    last_fired_at     TEXT,
    last_execution_id TEXT NOT NULL DEFAULT '',
    last_outcome      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (pipeline_id, trigger_key)
) STRICT;

CREATE INDEX pipeline_trigger_source ON pipeline_trigger (type, source);

-- One row per delivery that fired a trigger: the primary key makes a
-- replayed delivery start nothing, in the transaction that inserts the
-- execution.
CREATE TABLE trigger_delivery (
    pipeline_id  TEXT NOT NULL,
    trigger_key  TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, trigger_key, delivery_id)
) STRICT;
