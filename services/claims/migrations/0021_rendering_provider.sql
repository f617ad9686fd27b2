-- The rendering provider's NPI on the claim (issue 28: the work queues filter by
-- provider). Written from the encounter (encounter.created) and from the coded claim
-- (claim.coded, which a fix can change); claims coded before this read it back from the
-- coded claim. No index: the work queues find a state's claims by (tenant, state) first.
ALTER TABLE claims ADD COLUMN rendering_npi text;
UPDATE claims SET rendering_npi = coded->'rendering_provider'->>'npi' WHERE coded IS NOT NULL;

-- Additive (docs/views.md): claim_v1 gains the column at its end.
CREATE OR REPLACE VIEW claim_v1 AS
SELECT claim_id, tenant, encounter_id, state, hold_stage, self_pay, payer_id,
       patient_control_number, date_of_service, total_charge_cents, paid_cents,
       adjusted_cents, patient_responsibility_cents, payer_claim_number, frequency_code,
       created_at, state_since, coded->'patient'->>'id' AS patient_id, cob_level,
       rendering_npi
FROM claims;
