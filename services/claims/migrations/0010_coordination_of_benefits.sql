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
