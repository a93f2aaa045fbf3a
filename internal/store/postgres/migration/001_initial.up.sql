-- Sluice's tables on Postgres. Conventions (see package sqlstore):
--   times are timestamptz;
--   JSON is json, not jsonb, so the bytes come back exactly as written
--   (jsonb would reorder keys and drop whitespace); NULL for none;
--   identifiers and names are COLLATE "C", so they sort bytewise as on SQLite.
-- Objects are created unqualified, in the first schema of search_path.

-- One row per (application, name), ever: deleting sets deleted, and saving
-- again revives the same row with the next revision.
CREATE TABLE pipeline (
    id          text COLLATE "C" PRIMARY KEY,
    application text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    revision    integer NOT NULL, -- the newest revision
    deleted     boolean NOT NULL DEFAULT false,
    UNIQUE (application, name)
);

CREATE TABLE pipeline_revision (
    pipeline_id text COLLATE "C" NOT NULL REFERENCES pipeline (id),
    revision    integer NOT NULL,
    document    json NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, revision)
);

CREATE TABLE execution (
    id                 text COLLATE "C" PRIMARY KEY,
    application        text COLLATE "C" NOT NULL,
    pipeline_name      text COLLATE "C" NOT NULL,
    pipeline_config_id text COLLATE "C" NOT NULL,
    pipeline_revision  integer NOT NULL,
    status             text COLLATE "C" NOT NULL,
    pipeline           json,
    trigger_json       json, -- "trigger" is a keyword
    state              json,
    user_name          text NOT NULL,
    canceled           boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    start_time         timestamptz,
    end_time           timestamptz,
    updated_at         timestamptz NOT NULL
);

-- ExecutionList: newest first, optionally by application, pipeline or status.
CREATE INDEX execution_created_at ON execution (created_at DESC, id DESC);
CREATE INDEX execution_application ON execution (application, created_at DESC, id DESC);
CREATE INDEX execution_application_pipeline_name ON execution (application, pipeline_name, created_at DESC, id DESC);
CREATE INDEX execution_status ON execution (status, created_at DESC, id DESC);
-- ExecutionListByConfig: concurrency limits and queueing.
CREATE INDEX execution_pipeline_config_id_status ON execution (pipeline_config_id, status, created_at, id);

CREATE TABLE stage (
    id                      text COLLATE "C" PRIMARY KEY,
    execution_id            text COLLATE "C" NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
    seq                     integer NOT NULL,
    ref_id                  text NOT NULL,
    name                    text NOT NULL,
    type                    text NOT NULL,
    requisite_stage_ref_ids json NOT NULL, -- array of strings
    status                  text COLLATE "C" NOT NULL,
    context                 json,
    outputs                 json,
    tasks                   json,
    start_time              timestamptz,
    end_time                timestamptz,
    updated_at              timestamptz NOT NULL,
    UNIQUE (execution_id, seq)
);

CREATE TABLE event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text COLLATE "C" NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
    stage_id     text COLLATE "C" NOT NULL, -- '' for execution-level events
    type         text NOT NULL,
    data         json,
    created_at   timestamptz NOT NULL
);

CREATE INDEX event_execution_id ON event (execution_id, id);

-- No lock keeps event IDs in commit order across executions. An identity
-- value is drawn at INSERT, not at COMMIT, so two transactions may commit
-- out of ID order; serialising every event writer on one lock to prevent
-- that serialised every engine transition too. Order holds per execution:
-- the engine writes an execution's events only while holding its row lock
-- (ExecutionLock, SELECT ... FOR UPDATE), taken before the IDs are drawn and
-- held to commit. A reader of all executions tracks the IDs it skipped and
-- asks for them again (engine.Subscribe); see store.Querier.EventInsert.

-- No foreign keys: the audit log outlives what it mentions.
CREATE TABLE audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name    text NOT NULL,
    action       text NOT NULL,
    application  text COLLATE "C" NOT NULL,
    pipeline     text NOT NULL,
    execution_id text COLLATE "C" NOT NULL,
    stage_id     text NOT NULL,
    details      json,
    created_at   timestamptz NOT NULL
);

CREATE INDEX audit_execution_id ON audit (execution_id, id);
CREATE INDEX audit_application ON audit (application, id);
