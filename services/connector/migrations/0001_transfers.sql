-- The connector's transfer log. A file is known by its content (sha256): accepted once
-- per tenant whatever its name; every (account, name, content) seen is a receipt, so a
-- crash between storing a file and archiving it remotely is finished on the next poll.

CREATE TABLE inbound_files (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    sha256 text NOT NULL,
    kind text NOT NULL,
    source text NOT NULL,
    name text NOT NULL,
    control_number text NOT NULL,
    transactions int NOT NULL,
    size_bytes bigint NOT NULL,
    raw bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, sha256)
);

-- One row each time a name with a content was taken in: accepted, duplicate or rejected
-- (reason), and whether the remote file was archived or deleted yet. account '' is an
-- import or an upload.
CREATE TABLE receipts (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    sha256 text NOT NULL,
    size_bytes bigint NOT NULL,
    mtime bigint NOT NULL DEFAULT 0,
    outcome text NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
    reason text NOT NULL DEFAULT '',
    kind text,  -- 999, 277CA, 277, 835; NULL when refused
    control_number text,
    file_id bigint REFERENCES inbound_files (id),
    remote_done text,
    at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, account, name, sha256)
);
CREATE INDEX receipts_by_account ON receipts (account, name);
CREATE INDEX receipts_by_content ON receipts (tenant, sha256);

-- 837 interchanges sent to an account's outbound folder (temporary name, then renamed).
CREATE TABLE outbound_files (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    sha256 text NOT NULL,
    control_number text NOT NULL,
    raw bytea NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'uploaded')),
    attempts int NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    next_try_at timestamptz NOT NULL DEFAULT now(),
    uploaded_at timestamptz,
    UNIQUE (account, sha256),
    UNIQUE (account, name)
);
CREATE INDEX outbound_due ON outbound_files (account, next_try_at) WHERE state = 'pending';
