-- The audit chain, version 2: keyed, unambiguous, every id touched.
--
-- Version 1 (0001) hashed sha256(prev_hash || fields joined by \x1f) in a trigger. Anyone
-- who can write the table can recompute that, and a value can move between two fields
-- without changing it. Version 2 rows are chained by the application: hash =
-- HMAC-SHA256(RCM_AUDIT_KEY, prev_hash || canonical JSON of the row); the database never
-- holds the key, so it cannot make a valid row. The trigger below only checks that a row
-- extends the head it links to, and moves the head.
--
-- Rows written before this migration keep chain = 1 and their unkeyed hashes; the first
-- version 2 row links to the last of them, so from now on a rewrite of any old row breaks
-- a keyed link. What was rewritten before this migration cannot be told (see
-- docs/reliability.md, "The PHI audit log").
ALTER TABLE audit_log ADD COLUMN chain smallint NOT NULL DEFAULT 1 CHECK (chain IN (1, 2));
ALTER TABLE audit_log ALTER COLUMN chain SET DEFAULT 2;
ALTER TABLE audit_log ADD COLUMN patient_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE audit_log ADD COLUMN claim_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX audit_log_patients ON audit_log USING gin (patient_ids);
CREATE INDEX audit_log_claims ON audit_log USING gin (claim_ids);

CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_head%ROWTYPE;
BEGIN
    IF NEW.chain IS DISTINCT FROM 2 OR NEW.hash IS NULL OR NEW.at IS NULL THEN
        RAISE EXCEPTION 'audit_log rows carry their keyed hash (chain 2): write them through services.gateway.audit_store';
    END IF;
    SELECT * INTO head FROM audit_head WHERE one FOR UPDATE;
    IF NEW.seq IS DISTINCT FROM head.seq + 1 OR NEW.prev_hash IS DISTINCT FROM head.hash THEN
        RAISE EXCEPTION 'audit_log row % does not extend the head (seq %)', NEW.seq, head.seq;
    END IF;
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE one;
    RETURN NEW;
END $$;
