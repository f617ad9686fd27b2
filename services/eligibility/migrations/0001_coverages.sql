-- Coverage registry with history: a change closes the current row (valid_to) and adds a new one.
CREATE TABLE coverages (
    id               bigserial PRIMARY KEY,
    tenant           text NOT NULL,
    patient_id       text NOT NULL,
    payer_id         text NOT NULL,
    payer_name       text NOT NULL,
    member_id        text NOT NULL,
    group_number     text,
    plan             text NOT NULL,
    priority         smallint NOT NULL,
    relationship     text NOT NULL,
    subscriber_id    text,
    effective_date   date NOT NULL,
    termination_date date,
    source           text NOT NULL,
    valid_from       timestamptz NOT NULL DEFAULT now(),
    valid_to         timestamptz
);
CREATE UNIQUE INDEX coverages_current
    ON coverages (tenant, patient_id, payer_id, member_id) WHERE valid_to IS NULL;
CREATE INDEX coverages_patient ON coverages (tenant, patient_id) WHERE valid_to IS NULL;

CREATE TABLE eligibility_checks (
    claim_id     text PRIMARY KEY,
    tenant       text NOT NULL,
    encounter_id text NOT NULL,
    outcome      text NOT NULL,          -- eligible | self_pay | held
    payer_id     text,
    reasons      jsonb NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT now()
);
