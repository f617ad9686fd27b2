-- Issue 29 parts 4 and 6: adjustments and write-offs by people, transfers between payer
-- and patient responsibility, refunds of credit balances and credit applied by choice.
ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN ('charge',
    'insurance_payment', 'contractual', 'adjustment', 'patient_payment', 'refund',
    'self_pay_discount', 'credit_applied', 'write_off', 'transfer'));

-- Every command a person (or an agency file) gave, once each by command_id: who asked,
-- with which role, and who approved it when it was above the role's limit.
-- status: pending (waits for approval) -> posted | rejected; refused: it could not be
-- posted as asked (detail says why, without PHI).
CREATE TABLE ledger_requests (
    tenant        text NOT NULL,
    request_id    text NOT NULL,
    guarantor_id  text NOT NULL,
    claim_id      text,
    action        text NOT NULL,
    direction     text,
    amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
    reason        text NOT NULL,
    requested_by  text NOT NULL,
    role          text NOT NULL,
    requested_at  timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'posted', 'rejected', 'refused')),
    decided_by    text,
    decided_at    timestamptz,
    detail        text,
    event_id      text NOT NULL,
    PRIMARY KEY (tenant, request_id)
);
CREATE INDEX ledger_requests_pending ON ledger_requests (tenant) WHERE status = 'pending';
