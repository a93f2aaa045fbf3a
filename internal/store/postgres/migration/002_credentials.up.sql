-- Credentials: API tokens, console sessions and one-time login links. Only
-- a hash of each secret is kept; the secret itself is shown once.
CREATE TABLE credential (
    id          text COLLATE "C" PRIMARY KEY,
    kind        text NOT NULL,
    name        text NOT NULL,
    secret_hash text COLLATE "C" NOT NULL UNIQUE,
    subject     text NOT NULL,
    parent_id   text COLLATE "C" NOT NULL,
    roles       json NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz
);

-- A token's name is unique among the tokens in force.
CREATE UNIQUE INDEX credential_token_name ON credential (name) WHERE kind = 'token' AND revoked_at IS NULL;
CREATE INDEX credential_kind ON credential (kind, created_at);
-- Revoking a token revokes the sessions opened with it.
CREATE INDEX credential_parent ON credential (parent_id) WHERE parent_id <> '';

-- Where each audited action came from: the client's address and how it
-- authenticated.
ALTER TABLE audit ADD COLUMN source text NOT NULL DEFAULT '';
CREATE INDEX audit_user ON audit (user_name, id);
CREATE INDEX audit_action ON audit (action, id);
