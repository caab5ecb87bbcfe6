-- Tokens that can be revoked.
--
-- A user's token_version is in every access token (`ver`); a token with another version is
-- refused by todo-api and todo-mcp, so bumping it revokes every token of the user at once.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;

-- One row per sign-in (a refresh token family). Access tokens carry its id (`sid`), so
-- signing out (revoked_at set) refuses them at once; its refresh tokens die with it.
CREATE TABLE sessions (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    -- 'logout' or 'reuse' (a rotated refresh token was presented again: stolen or replayed).
    revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Refresh tokens, stored only as SHA-256 of the opaque token. Each use rotates: the token
-- gets used_at and a new one is issued in the same family; presenting a used one again
-- revokes the family. Used tokens stay until they expire so that reuse is still recognised.
CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
