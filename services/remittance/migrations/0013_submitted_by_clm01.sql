-- A shared mailbox's 835 is routed by its CLP01s to the tenant that submitted them
-- (services/remittance/routing.py): one lookup by CLM01 across tenants per file.
CREATE INDEX submitted_claims_clm01 ON submitted_claims (patient_control_number);
