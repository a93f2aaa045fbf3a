-- Credentials: API tokens, console sessions and one-time login links. Only
-- a hash of each secret is kept; the secret itself is shown once.
CREATE TABLE credential (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    parent_id   TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
) STRICT;

-- A token's name is unique among the tokens in force.
CREATE UNIQUE INDEX credential_token_name ON credential (name) WHERE kind = 'token' AND revoked_at IS NULL;
CREATE INDEX credential_kind ON credential (kind, created_at);
-- Revoking a token revokes the sessions opened with it.
CREATE INDEX credential_parent ON credential (parent_id) WHERE parent_id <> '';

-- Where each audited action came from: the client's address and how it
-- authenticated.
ALTER TABLE audit ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_user ON audit (user_name, id);
CREATE INDEX audit_action ON audit (action, id);
