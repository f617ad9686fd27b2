-- Patient A/R: unapplied money (credits), payments, coordination of benefits, the cycle.

-- A posting with no claim is the account's unapplied money: a credit when negative.
ALTER TABLE ledger ALTER COLUMN claim_id DROP NOT NULL;
ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN ('charge',
    'insurance_payment', 'contractual', 'adjustment', 'patient_payment', 'refund',
    'self_pay_discount', 'credit_applied'));
ALTER TABLE ledger ADD COLUMN payment_id text;
ALTER TABLE ledger ADD COLUMN payer_id text;

-- What the claim's payers have said, and whether the patient can be billed yet.
ALTER TABLE claim_charges ADD COLUMN coverages jsonb NOT NULL DEFAULT '[]';
ALTER TABLE claim_charges ADD COLUMN self_pay boolean NOT NULL DEFAULT false;
ALTER TABLE claim_charges ADD COLUMN insurance_final boolean NOT NULL DEFAULT false;
ALTER TABLE claim_charges ADD COLUMN hold_until date;
ALTER TABLE claim_charges ADD COLUMN hold_reason text;
ALTER TABLE claim_charges ADD COLUMN patient_responsibility_cents bigint;
ALTER TABLE claim_charges ADD COLUMN payers text[] NOT NULL DEFAULT '{}';
ALTER TABLE claim_charges ADD COLUMN line_detail jsonb NOT NULL DEFAULT '{}';
ALTER TABLE claim_charges ADD COLUMN first_billed_on date;
ALTER TABLE claim_charges ADD COLUMN closed_at timestamptz;
CREATE INDEX claim_charges_account ON claim_charges (tenant, guarantor_id);
CREATE INDEX claim_charges_held ON claim_charges (hold_until) WHERE NOT insurance_final;

-- The statement cycle and the collections flag, per guarantor account.
ALTER TABLE accounts ADD COLUMN next_statement_on date;
ALTER TABLE accounts ADD COLUMN collections_flagged_on date;
CREATE INDEX accounts_due ON accounts (next_statement_on) WHERE next_statement_on IS NOT NULL;

ALTER TABLE statements ADD COLUMN reason text NOT NULL DEFAULT 'adjudicated';
ALTER TABLE statements ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- Patient payments, once each by payment_id.
CREATE TABLE patient_payments (
    tenant          text NOT NULL,
    payment_id      text NOT NULL,
    guarantor_id    text NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    method          text NOT NULL,
    received_at     timestamptz NOT NULL,
    claim_id        text,
    applied_cents   bigint NOT NULL,
    unapplied_cents bigint NOT NULL,
    event_id        text NOT NULL,
    PRIMARY KEY (tenant, payment_id)
);

-- Money the practice holds for a guarantor with nothing left to apply it to.
CREATE TABLE refund_flags (
    id            bigserial PRIMARY KEY,
    tenant        text NOT NULL,
    guarantor_id  text NOT NULL,
    payment_id    text,
    amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'refunded', 'applied')),
    flagged_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refund_flags_open ON refund_flags (tenant, guarantor_id) WHERE status = 'open';

-- A self-pay claim coded before its encounter reached us.
CREATE TABLE pending_self_pay (
    claim_id  text PRIMARY KEY,
    event     jsonb NOT NULL,
    event_id  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
