-- Real-time 270/271 verification: checks waiting for (or retrying) the payer, and every
-- exchange with its raw text, which is also the reuse cache.
CREATE SEQUENCE inquiry_control MINVALUE 1 MAXVALUE 999999999 CYCLE;

CREATE TABLE pending_checks (
    claim_id        text PRIMARY KEY,
    tenant          text NOT NULL,
    encounter       jsonb NOT NULL,          -- the EncounterCreated being verified
    cause           text NOT NULL,           -- ce_id of that message
    traceparent     text,
    payer_id        text NOT NULL,
    state           text NOT NULL DEFAULT 'pending',   -- pending | done
    attempts        int NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX pending_checks_due ON pending_checks (next_at) WHERE state = 'pending';

CREATE TABLE exchanges (
    id              bigserial PRIMARY KEY,
    claim_id        text NOT NULL,
    tenant          text NOT NULL,
    payer_id        text NOT NULL,
    member_id       text NOT NULL,
    patient_id      text NOT NULL,
    date_of_service date NOT NULL,
    trace           text NOT NULL,
    request_x12     text NOT NULL,
    response_x12    text,                    -- raw, as received (kept when unreadable)
    outcome         text NOT NULL,           -- answered | retry | unreadable | rejected
    problem         text,
    reusable        boolean NOT NULL DEFAULT false,
    elapsed_ms      double precision,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exchanges_reuse ON exchanges (tenant, payer_id, member_id, patient_id, date_of_service, at DESC)
    WHERE reusable;
CREATE INDEX exchanges_claim ON exchanges (claim_id);

ALTER TABLE eligibility_checks ADD COLUMN benefits jsonb;
ALTER TABLE eligibility_checks ADD COLUMN secondary_payer_id text;
ALTER TABLE eligibility_checks ADD COLUMN exchange_id bigint;
