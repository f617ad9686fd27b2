-- People, not keys (issue 28): one row a person and tenant, with a role. Passwords are
-- argon2id hashes (services/gateway/users.py); a person who was invited and has not set
-- one yet has none. Failed sign-ins count up to a lock-out (locked_until); an optional
-- TOTP secret asks for a second factor. Ops keeps its API keys (ops_sessions).
CREATE TABLE users (
    user_id        text PRIMARY KEY,
    tenant         text NOT NULL,
    email          text NOT NULL,
    role           text NOT NULL
                   CHECK (role IN ('front_desk', 'coder', 'biller', 'manager', 'admin')),
    password_hash  text,
    totp_secret    text,
    failed_count   integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz,
    UNIQUE (tenant, email)
);
-- Sign-in goes by email alone (a person types no tenant); an email is one person's.
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Browser sessions (an HttpOnly SameSite=Strict cookie) and one-time invite or sign-in
-- links, stored as sha256 of a random 256-bit token. A session ends at logout, when its
-- user is disabled, at its absolute expiry, or after RCM_GATEWAY_IDLE_S without a request.
CREATE TABLE user_sessions (
    token_hash  bytea PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('session', 'invite')),
    user_id     text NOT NULL REFERENCES users ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);
