-- Tables every service schema carries: consumer de-duplication and the outbox.

CREATE TABLE IF NOT EXISTS processed_messages (
    message_id   text PRIMARY KEY,          -- ce_id, or topic:partition:offset for undecodable bytes
    topic        text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    value       bytea NOT NULL,
    headers     jsonb NOT NULL,               -- [[name, base64 value], ...]
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigserial PRIMARY KEY,
    source_topic text NOT NULL,
    partition    int NOT NULL,
    "offset"     bigint NOT NULL,
    reason       text NOT NULL,
    error        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
