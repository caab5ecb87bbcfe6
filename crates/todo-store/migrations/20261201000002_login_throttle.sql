-- Failed logins per account, shared by every todo-api replica (an in-memory count per replica
-- is no limit at ten replicas). Keyed by the normalised email whether or not an account has
-- it, so a throttled answer says nothing about which emails are registered. A successful
-- login deletes the row; rows idle past the failure window are pruned by the API.
CREATE TABLE login_throttle (
    account       text        PRIMARY KEY,
    failures      integer     NOT NULL CHECK (failures > 0),
    blocked_until timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE INDEX login_throttle_updated_at ON login_throttle (updated_at);
