-- Coordination of benefits (docs/architecture.md): the encounter's coverages give the
-- payers' order; a claim going to a later payer carries the earlier payers' answers
-- (cob: services/claims/cob.py Cob) and its place in the order (cob_level: 1 primary,
-- 2 secondary, 3 tertiary). The same CLM01 goes out once as an original to each payer.
ALTER TABLE claims
    ADD COLUMN coverages json,
    ADD COLUMN cob json,
    ADD COLUMN cob_level smallint NOT NULL DEFAULT 1;
ALTER TABLE submissions ADD COLUMN cob_level smallint NOT NULL DEFAULT 1;
DROP INDEX submissions_one_original;
CREATE UNIQUE INDEX submissions_one_original_per_payer
    ON submissions (patient_control_number, cob_level) WHERE frequency_code = '1';

-- The views gain the payer's place in the order (docs/views.md): additive, so v1 stays.
CREATE OR REPLACE VIEW claim_v1 AS
SELECT claim_id, tenant, encounter_id, state, hold_stage, self_pay, payer_id,
       patient_control_number, date_of_service, total_charge_cents, paid_cents,
       adjusted_cents, patient_responsibility_cents, payer_claim_number, frequency_code,
       created_at, state_since, coded->'patient'->>'id' AS patient_id, cob_level
FROM claims;

CREATE OR REPLACE VIEW claim_submission_v1 AS
SELECT id AS seq, claim_id, patient_control_number, frequency_code,
       interchange_control_number, at AS submitted_at, cob_level
FROM submissions;
