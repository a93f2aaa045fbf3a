-- Canary configs (Kayenta's CanaryConfig documents), versioned like
-- pipelines: one row per config, named uniquely, and one row per saved
-- revision with the document exactly as it was sent (json, not jsonb, keeps
-- the bytes).
CREATE TABLE canary_config (
    id       text COLLATE "C" PRIMARY KEY,
    name     text COLLATE "C" NOT NULL UNIQUE,
    revision integer NOT NULL, -- the newest revision
    deleted  boolean NOT NULL DEFAULT false
);

CREATE TABLE canary_config_revision (
    config_id    text COLLATE "C" NOT NULL REFERENCES canary_config (id),
    revision     integer NOT NULL,
    -- The applications the document names, kept beside it so that
    -- authorization need not parse the document.
    applications json NOT NULL,
    document     json NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (config_id, revision)
);
