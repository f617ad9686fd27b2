-- Matching 835 claims to ours, work queues (unbalanced files, unmatched claims, denials,
-- underpayments), per-line posting categories, reversals, PLB de-duplication, contracts.

-- What we submitted (from claim.submitted): CLM01 -> our claim, and what patient/date/amount
-- matching needs. patient_key is a hash of the normalised patient name, never the name.
CREATE TABLE submitted_claims (
    tenant                  text NOT NULL,
    patient_control_number  text NOT NULL,            -- CLM01 as sent
    claim_id                text NOT NULL,
    payer_id                text NOT NULL,
    frequency_code          text NOT NULL,
    total_charge_cents      bigint NOT NULL,
    patient_key             text,
    service_date            date,
    submitted_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, patient_control_number)
);
CREATE INDEX submitted_claims_claim ON submitted_claims (tenant, claim_id);
CREATE INDEX submitted_claims_patient
    ON submitted_claims (tenant, patient_key, service_date, total_charge_cents);

-- Payer claim numbers (CLP07) learned from earlier 835s.
CREATE TABLE payer_claim_numbers (
    tenant              text NOT NULL,
    payer_id            text NOT NULL,
    payer_claim_number  text NOT NULL,
    claim_id            text NOT NULL,
    learned_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, payer_id, payer_claim_number)
);

-- remits: the remittance work queue (unbalanced or unreadable files wait here).
ALTER TABLE remits
    ADD COLUMN x12_sha256   text,
    ADD COLUMN claims       int NOT NULL DEFAULT 0,
    ADD COLUMN posted       int NOT NULL DEFAULT 0,
    ADD COLUMN duplicates   int NOT NULL DEFAULT 0,
    ADD COLUMN unmatched    int NOT NULL DEFAULT 0,
    ADD COLUMN resolved_at  timestamptz,
    ADD COLUMN resolution   text;
CREATE INDEX remits_sha ON remits (tenant, payer_id, trace_number, x12_sha256);
CREATE INDEX remits_open ON remits (received_at)
    WHERE status IN ('unbalanced', 'unreadable') AND resolved_at IS NULL;

-- problems: [{"scope": "file|payment|claim|line", "message", "segment", "position",
--             "trace_number", "patient_control_number", "line", "expected_cents",
--             "actual_cents", "off_by_cents"}]
CREATE VIEW remit_work_queue AS
    SELECT id, tenant, payer_id, trace_number, source, status, problems, received_at
    FROM remits
    WHERE status IN ('unbalanced', 'unreadable') AND resolved_at IS NULL;

-- Postings are keyed by what the file says, so a second delivery posts nothing:
-- (tenant, payer, TRN02, CLP01, CLP07, CLP02, n-th such CLP in the file).
ALTER TABLE claim_postings
    DROP CONSTRAINT IF EXISTS claim_postings_tenant_payer_id_trace_number_claim_id_payer__key,
    ADD COLUMN patient_control_number  text,
    ADD COLUMN occurrence              int NOT NULL DEFAULT 0,
    ADD COLUMN matched_by              text NOT NULL DEFAULT 'patient_control_number',
    ADD COLUMN adjudication_status     text,
    ADD COLUMN denial_category         text,
    ADD COLUMN reverses_posting_id     bigint REFERENCES claim_postings,
    ADD COLUMN reversed_by_posting_id  bigint REFERENCES claim_postings;
UPDATE claim_postings SET patient_control_number = claim_id WHERE patient_control_number IS NULL;
ALTER TABLE claim_postings ALTER COLUMN patient_control_number SET NOT NULL;
CREATE UNIQUE INDEX claim_postings_key ON claim_postings
    (tenant, payer_id, trace_number, patient_control_number, payer_claim_number, status_code,
     occurrence);

-- Ledger lines by category: charge, payment, contractual (CO), deductible (PR-1),
-- coinsurance (PR-2), copay (PR-3), patient_other (other PR), other_adjustment (OA, PI, ...).
-- A reversal posts the same kinds with the opposite sign under a posting that references
-- the one it undoes (claim_postings.reverses_posting_id).
ALTER TABLE ledger_lines ADD COLUMN category text;
UPDATE ledger_lines SET category = CASE
    WHEN kind <> 'adjustment' THEN kind
    WHEN cas_group = 'CO' THEN 'contractual'
    WHEN cas_group = 'PR' AND reason = '1' THEN 'deductible'
    WHEN cas_group = 'PR' AND reason = '2' THEN 'coinsurance'
    WHEN cas_group = 'PR' AND reason = '3' THEN 'copay'
    WHEN cas_group = 'PR' THEN 'patient_other'
    ELSE 'other_adjustment' END;
ALTER TABLE ledger_lines ALTER COLUMN category SET NOT NULL;
CREATE INDEX ledger_lines_posting ON ledger_lines (posting_id);

-- PLB at provider level, once per (tenant, payer, trace, n-th adjustment in the file).
ALTER TABLE provider_adjustments
    ADD COLUMN tenant        text,
    ADD COLUMN payer_id      text,
    ADD COLUMN trace_number  text,
    ADD COLUMN fiscal_date   date,
    ADD COLUMN occurrence    int;
UPDATE provider_adjustments p SET tenant = r.tenant, payer_id = r.payer_id,
    trace_number = r.trace_number, occurrence = -p.id
    FROM remits r WHERE r.id = p.remit_id;
CREATE UNIQUE INDEX provider_adjustments_key
    ON provider_adjustments (tenant, payer_id, trace_number, occurrence);

-- Unmatched claims wait here for a person (or for the claim.submitted that names them).
CREATE TABLE unmatched (
    id                      bigserial PRIMARY KEY,
    tenant                  text NOT NULL,
    payer_id                text NOT NULL,
    trace_number            text NOT NULL,
    patient_control_number  text NOT NULL,         -- CLP01
    payer_claim_number      text NOT NULL DEFAULT '',
    status_code             text NOT NULL,         -- CLP02
    occurrence              int NOT NULL DEFAULT 0,
    amount_cents            bigint NOT NULL,       -- CLP04, paid
    charge_cents            bigint NOT NULL,       -- CLP03
    reason                  text NOT NULL,
    remit_id                bigint NOT NULL REFERENCES remits,
    claim_index             int NOT NULL,          -- the CLP's position in the remit's claims
    patient_key             text,
    service_date            date,
    received_at             timestamptz NOT NULL DEFAULT now(),
    resolved_at             timestamptz,
    resolved_claim_id       text,
    posting_id              bigint REFERENCES claim_postings,
    UNIQUE (tenant, payer_id, trace_number, patient_control_number, payer_claim_number,
            status_code, occurrence)
);
CREATE INDEX unmatched_open ON unmatched (tenant, patient_control_number)
    WHERE resolved_at IS NULL;
CREATE INDEX unmatched_open_patient ON unmatched (tenant, patient_key, service_date)
    WHERE resolved_at IS NULL;

-- Denials, sorted into work: correctable (fix and resubmit), appealable, write_off.
CREATE TABLE denials (
    id            bigserial PRIMARY KEY,
    posting_id    bigint NOT NULL REFERENCES claim_postings,
    tenant        text NOT NULL,
    claim_id      text NOT NULL,
    payer_id      text NOT NULL,
    line_number   int NOT NULL,              -- 0: claim level
    procedure     text,
    cas_group     text NOT NULL,
    reason        text NOT NULL,
    amount_cents  bigint NOT NULL,
    category      text NOT NULL CHECK (category IN ('correctable', 'appealable', 'write_off')),
    remarks       text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz
);
CREATE INDEX denials_open ON denials (tenant, category) WHERE resolved_at IS NULL;
CREATE INDEX denials_claim ON denials (claim_id);

-- Contracted fees per unit (loaded at start-up from services/remittance/contracts.csv).
CREATE TABLE contracts (
    payer_id        text NOT NULL,
    procedure_code  text NOT NULL,
    allowed_cents   bigint NOT NULL CHECK (allowed_cents >= 0),
    PRIMARY KEY (payer_id, procedure_code)
);

-- Lines the payer allowed below the contract.
CREATE TABLE underpayments (
    id                bigserial PRIMARY KEY,
    posting_id        bigint NOT NULL REFERENCES claim_postings,
    tenant            text NOT NULL,
    claim_id          text NOT NULL,
    payer_id          text NOT NULL,
    line_number       int NOT NULL,
    procedure         text NOT NULL,
    units             text NOT NULL,
    allowed_cents     bigint NOT NULL,
    contracted_cents  bigint NOT NULL,          -- min(fee x units, charge)
    shortfall_cents   bigint NOT NULL,
    flagged_at        timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz
);
CREATE INDEX underpayments_open ON underpayments (tenant) WHERE resolved_at IS NULL;
