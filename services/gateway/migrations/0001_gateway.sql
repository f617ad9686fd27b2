-- The gateway's own state: API keys (hashed), idempotency keys, the encounters that came
-- through its doors (so a fix can rebuild the corrected one) and the PHI audit log.

CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    tenant      text NOT NULL,
    name        text NOT NULL DEFAULT '',
    scopes      text[] NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,       -- sha256 of the whole 256-bit random token
    rate_per_s  integer NOT NULL DEFAULT 100 CHECK (rate_per_s > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE idempotency_keys (
    tenant        text NOT NULL,
    key           text NOT NULL,
    route         text NOT NULL,
    request_hash  bytea NOT NULL,
    state         text NOT NULL CHECK (state IN ('pending', 'done')),
    status_code   integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);

CREATE TABLE encounters (
    tenant        text NOT NULL,
    encounter_id  text NOT NULL,
    claim_id      text NOT NULL,
    patient_id    text NOT NULL,
    source        text NOT NULL CHECK (source IN ('json', 'fhir', 'fix')),
    status        text NOT NULL CHECK (status IN ('accepted', 'held')),
    body_hash     bytea NOT NULL,
    body          jsonb NOT NULL,             -- EncounterCreated, or the FHIR draft when held
    received_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, encounter_id)
);
CREATE INDEX encounters_claim ON encounters (claim_id);

-- Append-only, hash-chained audit of every PHI read and write.
-- hash = sha256(prev_hash || canonical text of the row); the first row's prev_hash is 32 zero bytes.
CREATE TABLE audit_head (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq        bigint NOT NULL,
    hash       bytea NOT NULL
);
INSERT INTO audit_head(seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    tenant        text NOT NULL,
    actor         text NOT NULL,              -- API key id (or cli:<user>)
    action        text NOT NULL,              -- e.g. encounter.create, claim.read
    resource      text NOT NULL,              -- claim or encounter id, or a query
    patient_id    text NOT NULL DEFAULT '',   -- tenant-scoped patient id, '' when none
    outcome       text NOT NULL,
    detail        text NOT NULL DEFAULT '',
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log (tenant, patient_id);

CREATE FUNCTION audit_canonical(
    seq bigint, at timestamptz, tenant text, actor text, action text, resource text,
    patient_id text, outcome text, detail text
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(E'\x1f', seq::text,
        to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        tenant, actor, action, resource, patient_id, outcome, detail)
$$;

-- Chains every insert, whoever makes it: the head row's lock serialises appenders.
CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_head%ROWTYPE;
BEGIN
    SELECT * INTO head FROM audit_head WHERE one FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.at := coalesce(NEW.at, clock_timestamp());
    NEW.at := date_trunc('microseconds', NEW.at);
    NEW.prev_hash := head.hash;
    NEW.hash := sha256(head.hash || convert_to(audit_canonical(NEW.seq, NEW.at, NEW.tenant,
        NEW.actor, NEW.action, NEW.resource, NEW.patient_id, NEW.outcome, NEW.detail), 'UTF8'));
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE one;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
