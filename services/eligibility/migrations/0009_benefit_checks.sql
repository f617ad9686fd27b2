-- The front desk's benefit checks (issue 28): a person asked, before a visit, what the
-- patient will likely owe. One row a check: the question (PHI, this room only), the 270
-- and 271 as sent and received, and the figures the 271 gave.
CREATE TABLE benefit_checks (
    check_id          text NOT NULL,
    tenant            text NOT NULL,
    request           jsonb NOT NULL,          -- the BenefitCheckRequested
    patient_id        text NOT NULL,
    payer_id          text NOT NULL,
    date_of_service   date NOT NULL,
    requested_by      text NOT NULL,
    state             text NOT NULL DEFAULT 'pending',  -- pending | answered | failed
    attempts          int NOT NULL DEFAULT 0,
    next_at           timestamptz NOT NULL DEFAULT now(),
    active            boolean,
    copay_cents       bigint,
    deductible_remaining_cents    bigint,
    coinsurance_percent           numeric,
    out_of_pocket_remaining_cents bigint,
    problem           text,
    request_x12       text,
    response_x12      text,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    answered_at       timestamptz,
    PRIMARY KEY (tenant, check_id)
);
CREATE INDEX benefit_checks_due ON benefit_checks (next_at) WHERE state = 'pending';
