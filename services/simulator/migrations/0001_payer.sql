-- The simulated clearinghouse and payers: what they received, what they owe, what they paid.
CREATE SEQUENCE interchange_control MINVALUE 1 MAXVALUE 999999999 CYCLE;
CREATE SEQUENCE trace_numbers;

CREATE TABLE received (
    id            bigserial PRIMARY KEY,
    tenant        text NOT NULL,
    claim_id      text NOT NULL,
    event_id      text NOT NULL,
    traceparent   text,
    x12           text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pending_adjudications (
    id             bigserial PRIMARY KEY,
    received_id    bigint NOT NULL REFERENCES received,
    tenant         text NOT NULL,
    payer_id       text NOT NULL,
    billing_npi    text NOT NULL,
    patient_control_number text NOT NULL,
    due_at         timestamptz NOT NULL,
    done_at        timestamptz
);
CREATE INDEX pending_due ON pending_adjudications (due_at) WHERE done_at IS NULL;

CREATE TABLE accumulators (
    payer_id              text NOT NULL,
    member_id             text NOT NULL,
    year                  int NOT NULL,
    deductible_met_cents  bigint NOT NULL,
    oop_met_cents         bigint NOT NULL,
    PRIMARY KEY (payer_id, member_id, year)
);

CREATE TABLE paid_claims (
    payer_id               text NOT NULL,
    patient_control_number text NOT NULL,
    payer_claim_number     text NOT NULL,
    paid_cents             bigint NOT NULL,
    PRIMARY KEY (payer_id, patient_control_number)
);

CREATE TABLE remits (
    trace_number  text PRIMARY KEY,
    tenant        text NOT NULL,
    payer_id      text NOT NULL,
    claims        int NOT NULL,
    x12           text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now()
);
