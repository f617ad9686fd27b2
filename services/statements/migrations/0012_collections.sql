-- Issue 29 part 7: accounts placed with a collection agency, and what the agency collected.
ALTER TABLE accounts ADD COLUMN birth_date date;
ALTER TABLE accounts ADD COLUMN placed_on date;
ALTER TABLE accounts ADD COLUMN agency text;
-- The claims an account was placed with: the agency's to collect, on no statement again;
-- a visit after the placement is billed as any other.
ALTER TABLE claim_charges ADD COLUMN placed_on date;

-- One row an account placed: the balance the agency was given, in which export file.
CREATE TABLE placements (
    tenant        text NOT NULL,
    guarantor_id  text NOT NULL,
    agency        text NOT NULL,
    placed_on     date NOT NULL,
    balance_cents bigint NOT NULL CHECK (balance_cents > 0),
    export_id     text NOT NULL,
    PRIMARY KEY (tenant, guarantor_id, placed_on)
);

-- A payment an agency collected: the whole amount credits the guarantor; the agency's fee
-- is the practice's cost (what the practice receives is collected - fee).
CREATE TABLE agency_payments (
    tenant          text NOT NULL,
    payment_ref     text NOT NULL,
    agency          text NOT NULL,
    guarantor_id    text NOT NULL,
    collected_cents bigint NOT NULL CHECK (collected_cents > 0),
    fee_cents       bigint NOT NULL CHECK (fee_cents >= 0 AND fee_cents <= collected_cents),
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant, payment_ref)
);
