-- Contracts per tenant and payer (issue 29 part 5), replacing the one global table of
-- the simulator's fees. A contract row prices a code (or, with a fee schedule, every
-- code) for a payer from a date: an allowed amount per unit by code, modifier and place
-- of service ('' matches any), or a percentage of a fee schedule the tenant loads (for
-- example 110 % of the Medicare physician fee schedule). `rcm contracts import` writes
-- them; the remittance service caches a tenant's contracts and reloads them when
-- `contract_tenants.version` changes (each import that changes something).
DROP TABLE contracts;

CREATE TABLE contract_tenants (
    tenant                       text PRIMARY KEY,
    version                      uuid NOT NULL,       -- new on every import that changes rows
    underpayment_threshold_cents bigint CHECK (underpayment_threshold_cents >= 0),
    updated_at                   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contract_rates (
    tenant            text NOT NULL,
    payer_id          text NOT NULL,
    procedure_code    text NOT NULL,               -- '' with a fee schedule: every code
    modifier          text NOT NULL,               -- '' any
    place_of_service  text NOT NULL,               -- '' any
    effective_from    date NOT NULL,
    effective_to      date,                        -- inclusive; NULL open
    allowed_cents     bigint CHECK (allowed_cents >= 0),
    fee_schedule      text,
    percent           numeric(7, 3) CHECK (percent > 0),
    CHECK ((allowed_cents IS NULL) <> (fee_schedule IS NULL AND percent IS NULL)),
    CHECK ((fee_schedule IS NULL) = (percent IS NULL)),
    CHECK (procedure_code <> '' OR fee_schedule IS NOT NULL),
    PRIMARY KEY (tenant, payer_id, procedure_code, modifier, place_of_service, effective_from)
);

CREATE TABLE fee_schedules (
    tenant          text NOT NULL,
    schedule        text NOT NULL,
    procedure_code  text NOT NULL,
    modifier        text NOT NULL,                 -- '' the code's global price
    allowed_cents   bigint NOT NULL CHECK (allowed_cents >= 0),
    PRIMARY KEY (tenant, schedule, procedure_code, modifier)
);

-- An underpaid line is a work item: what the contract expected, what the payer allowed
-- and paid, on which date of service and under which contract row.
ALTER TABLE underpayments
    ADD COLUMN paid_cents bigint,
    ADD COLUMN service_date date,
    ADD COLUMN modifiers text NOT NULL DEFAULT '',
    ADD COLUMN place_of_service text,
    ADD COLUMN basis text;
CREATE INDEX underpayments_by_date ON underpayments (tenant, payer_id, service_date);
