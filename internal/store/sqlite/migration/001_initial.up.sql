-- Sluice's tables on SQLite. Conventions (see package sqlstore):
--   times are TEXT, UTC, fixed width: 2006-01-02T15:04:05.000000Z;
--   JSON is TEXT holding the bytes exactly as written (NULL for none);
--   booleans are INTEGER 0/1.
-- Tables are STRICT, so a value of the wrong type is an error, not a surprise.

-- One row per (application, name), ever: deleting sets deleted, and saving
-- again revives the same row with the next revision.
CREATE TABLE pipeline (
    id          TEXT PRIMARY KEY,
    application TEXT NOT NULL,
    name        TEXT NOT NULL,
    revision    INTEGER NOT NULL, -- the newest revision
    deleted     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (application, name)
) STRICT;

CREATE TABLE pipeline_revision (
    pipeline_id TEXT NOT NULL REFERENCES pipeline (id),
    revision    INTEGER NOT NULL,
    document    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, revision)
) STRICT;

CREATE TABLE execution (
    id                 TEXT PRIMARY KEY,
    application        TEXT NOT NULL,
    pipeline_name      TEXT NOT NULL,
    pipeline_config_id TEXT NOT NULL,
    pipeline_revision  INTEGER NOT NULL,
    status             TEXT NOT NULL,
    pipeline           TEXT,
    trigger_json       TEXT, -- "trigger" is a keyword
    state              TEXT,
    user_name          TEXT NOT NULL,
    canceled           INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    start_time         TEXT,
    end_time           TEXT,
    updated_at         TEXT NOT NULL
) STRICT;

-- ExecutionList: newest first, optionally by application, pipeline or status.
CREATE INDEX execution_created_at ON execution (created_at DESC, id DESC);
CREATE INDEX execution_application ON execution (application, created_at DESC, id DESC);
CREATE INDEX execution_application_pipeline_name ON execution (application, pipeline_name, created_at DESC, id DESC);
CREATE INDEX execution_status ON execution (status, created_at DESC, id DESC);
-- ExecutionListByConfig: concurrency limits and queueing.
CREATE INDEX execution_pipeline_config_id_status ON execution (pipeline_config_id, status, created_at, id);

CREATE TABLE stage (
    id                      TEXT PRIMARY KEY,
    execution_id            TEXT NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
    seq                     INTEGER NOT NULL,
    ref_id                  TEXT NOT NULL,
    name                    TEXT NOT NULL,
    type                    TEXT NOT NULL,
    requisite_stage_ref_ids TEXT NOT NULL, -- JSON array of strings
    status                  TEXT NOT NULL,
    context                 TEXT,
    outputs                 TEXT,
    tasks                   TEXT,
    start_time              TEXT,
    end_time                TEXT,
    updated_at              TEXT NOT NULL,
    UNIQUE (execution_id, seq)
) STRICT;

-- AUTOINCREMENT: IDs are never reused, and because SQLite serialises
-- writers they grow in commit order, which EventList's AfterID relies on.
CREATE TABLE event (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
    stage_id     TEXT NOT NULL, -- '' for execution-level events
    type         TEXT NOT NULL,
    data         TEXT,
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX event_execution_id ON event (execution_id, id);

-- No foreign keys: the audit log outlives what it mentions.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name    TEXT NOT NULL,
    action       TEXT NOT NULL,
    application  TEXT NOT NULL,
    pipeline     TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    stage_id     TEXT NOT NULL,
    details      TEXT,
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX audit_execution_id ON audit (execution_id, id);
CREATE INDEX audit_application ON audit (application, id);
