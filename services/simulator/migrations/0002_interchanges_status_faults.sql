-- Interchanges with several claims (acknowledged once), claim status for 276/277,
-- scheduled deliveries (late acks, 835s held back), reversals with corrected payments.

-- One row per interchange from now on: ISA13 and ISA06 say which one it is.
ALTER TABLE received
    ADD COLUMN sender_id text,
    ADD COLUMN interchange_control_number text,
    ADD COLUMN claims int;
CREATE UNIQUE INDEX received_interchange
    ON received (tenant, sender_id, interchange_control_number) WHERE sender_id IS NOT NULL;

CREATE UNIQUE INDEX pending_once ON pending_adjudications (received_id, patient_control_number);

-- Who got paid, so a PLB recoupment can name an earlier claim of the same payee.
ALTER TABLE paid_claims
    ADD COLUMN tenant text,
    ADD COLUMN billing_npi text;

-- What the payer would answer a 276 with: the latest submission of each claim.
CREATE TABLE claim_status (
    payer_id               text NOT NULL,
    patient_control_number text NOT NULL,
    tenant                 text NOT NULL,
    member_id              text NOT NULL,
    received_id            bigint NOT NULL REFERENCES received,
    charge_cents           bigint NOT NULL,
    service_from           date NOT NULL,
    service_to             date NOT NULL,
    -- received (ack not released yet), rejected (277CA A3), pending, finalized
    state                  text NOT NULL,
    category               text,
    code                   text,
    payer_claim_number     text,
    paid_cents             bigint,
    adjudicated_on         date,
    trace_number           text,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payer_id, patient_control_number)
);

-- Events to publish later: acknowledgements held back, 835s delivered out of order.
CREATE TABLE scheduled (
    id              bigserial PRIMARY KEY,
    tenant          text NOT NULL,
    correlation_id  text NOT NULL,
    cause           text,
    traceparent     text,
    event_type      text NOT NULL,
    body            jsonb NOT NULL,
    -- set for an acknowledgement: the claim whose status it releases
    payer_id        text,
    patient_control_number text,
    ack_state       text,
    due_at          timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX scheduled_due ON scheduled (due_at) WHERE sent_at IS NULL;

-- A paid claim the payer will reverse and pay again, corrected.
CREATE TABLE corrections (
    id                     bigserial PRIMARY KEY,
    tenant                 text NOT NULL,
    payer_id               text NOT NULL,
    billing_npi            text NOT NULL,
    received_id            bigint NOT NULL REFERENCES received,
    patient_control_number text NOT NULL,
    event_id               text NOT NULL,
    traceparent            text,
    adjudicated_on         date NOT NULL,
    acc_year               int NOT NULL,
    acc_deductible_cents   bigint NOT NULL,
    acc_oop_cents          bigint NOT NULL,
    due_at                 timestamptz NOT NULL,
    done_at                timestamptz
);
CREATE INDEX corrections_due ON corrections (due_at) WHERE done_at IS NULL;

ALTER TABLE remits ADD COLUMN deliveries int NOT NULL DEFAULT 1;
