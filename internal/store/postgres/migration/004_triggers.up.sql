-- The triggers of saved pipelines, indexed by what deliveries address them
-- by, with each one's last firing; rewritten when the pipeline is saved.
CREATE TABLE pipeline_trigger (
    pipeline_id       text COLLATE "C" NOT NULL,
    trigger_key       text COLLATE "C" NOT NULL, -- the trigger's id, or #<position>
    position          integer NOT NULL,
    type              text NOT NULL,
    source            text COLLATE "C" NOT NULL,
    enabled           boolean NOT NULL,
    application       text COLLATE "C" NOT NULL,
    pipeline_name     text COLLATE "C" NOT NULL,
    last_fired_at     timestamptz,
    last_execution_id text NOT NULL DEFAULT '',
    last_outcome      text NOT NULL DEFAULT '',
    PRIMARY KEY (pipeline_id, trigger_key)
);

CREATE INDEX pipeline_trigger_source ON pipeline_trigger (type, source);

-- One row per delivery that fired a trigger: the primary key makes a
-- replayed delivery start nothing, in the transaction that inserts the
-- execution.
CREATE TABLE trigger_delivery (
    pipeline_id  text COLLATE "C" NOT NULL,
    trigger_key  text COLLATE "C" NOT NULL,
    delivery_id  text COLLATE "C" NOT NULL,
    execution_id text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, trigger_key, delivery_id)
);
