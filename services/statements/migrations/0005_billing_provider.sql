-- The billing provider each visit was billed under, as the encounter named it: the
-- statement shows the practice the patient knows (services/statements/practice.py).
-- Visits received before this migration have none; their statements use the tenant's
-- configured practice.
ALTER TABLE claim_charges ADD COLUMN billing_provider jsonb;
