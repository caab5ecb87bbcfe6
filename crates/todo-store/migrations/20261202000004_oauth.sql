-- OAuth 2.1 for MCP hosts (MCP Authorization, revision 2025-11-25): clients, authorization
-- codes and grants, so any todo-api replica serves any step of a flow.
--
-- A grant (one client's authorization by one user) is a row of `sessions`: its refresh tokens
-- live in `refresh_tokens` with rotation and reuse detection as for sign-in sessions, its
-- access tokens carry the session id, so revoking it (disconnect, reuse, RFC 7009 revocation,
-- a password change's revoke-all) refuses them at once. `oauth_grants` adds what binds the
-- grant: the client, the resource (RFC 8707) and the scopes.

-- Registered clients (RFC 7591 dynamic registration). Public clients only: no secret.
CREATE TABLE oauth_clients (
    client_id     text        PRIMARY KEY,
    client_name   text        NOT NULL,
    redirect_uris text[]      NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 10),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_grants (
    session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    resource   text NOT NULL,
    scope      text NOT NULL
);
CREATE INDEX oauth_grants_client_idx ON oauth_grants (client_id);

-- Authorization codes, stored as SHA-256 only; single use and short-lived. A used code is
-- kept until it expires so that a second use is recognised and revokes the grant it made
-- (OAuth 2.1 §4.1.3).
CREATE TABLE oauth_codes (
    code_hash      bytea       PRIMARY KEY,
    client_id      text        NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   text        NOT NULL,
    code_challenge text        NOT NULL,
    resource       text        NOT NULL,
    scope          text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    session_id     uuid        REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);
