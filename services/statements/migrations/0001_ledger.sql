-- Guarantor accounts and the patient A/R ledger, in integer cents.
-- balance = sum(amount_cents): charges positive; payments and adjustments negative.
CREATE TABLE accounts (
    tenant        text NOT NULL,
    guarantor_id  text NOT NULL,
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    address       jsonb NOT NULL,
    PRIMARY KEY (tenant, guarantor_id)
);

CREATE TABLE claim_charges (
    claim_id        text PRIMARY KEY,
    tenant          text NOT NULL,
    guarantor_id    text NOT NULL,
    patient_id      text NOT NULL,
    patient_name    text NOT NULL,
    date_of_service date NOT NULL,
    lines           jsonb NOT NULL,
    charge_cents    bigint NOT NULL
);

CREATE TABLE ledger (
    id            bigserial PRIMARY KEY,
    tenant        text NOT NULL,
    guarantor_id  text NOT NULL,
    claim_id      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('charge', 'insurance_payment', 'contractual',
                      'adjustment', 'patient_payment', 'refund', 'self_pay_discount')),
    reason        text,
    amount_cents  bigint NOT NULL,
    source_event  text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_account ON ledger (tenant, guarantor_id);
CREATE INDEX ledger_claim ON ledger (claim_id);

-- An adjudication that arrived before its encounter: applied when the encounter comes.
CREATE TABLE pending_adjudications (
    claim_id  text PRIMARY KEY,
    event     jsonb NOT NULL,
    event_id  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE statements (
    statement_id   text PRIMARY KEY,
    tenant         text NOT NULL,
    guarantor_id   text NOT NULL,
    claim_ids      text[] NOT NULL,
    balance_cents  bigint NOT NULL,
    aging_bucket   text NOT NULL,
    statement_date date NOT NULL,
    due_date       date NOT NULL,
    body           jsonb NOT NULL
);
CREATE INDEX statements_account ON statements (tenant, guarantor_id);
