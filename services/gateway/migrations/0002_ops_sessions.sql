-- Dashboard sessions (an HttpOnly cookie) and one-time login links, for API keys with the
-- ops scope. Only the sha256 of each random token is stored. A session ends at its expiry,
-- at logout, or when its key is revoked (checked at every use).
CREATE TABLE ops_sessions (
    token_hash  bytea PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('session', 'ticket')),
    key_id      text NOT NULL REFERENCES api_keys ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_sessions_expiry ON ops_sessions (expires_at);
