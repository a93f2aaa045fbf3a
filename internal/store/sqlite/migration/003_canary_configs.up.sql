-- Canary configs (Kayenta's CanaryConfig documents), versioned like
-- pipelines: one row per config, named uniquely, and one row per saved
-- revision with the document exactly as it was sent.
CREATE TABLE canary_config (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL, -- the newest revision
    deleted  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE canary_config_revision (
    config_id    TEXT NOT NULL REFERENCES canary_config (id),
    revision     INTEGER NOT NULL,
    -- The applications the document names, kept beside it so that
    -- authorization need not parse the document.
    applications TEXT NOT NULL,
    document     TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (config_id, revision)
) STRICT;
