-- Lines a payer allowed below the tenant's contract by more than its threshold
-- (docs/views.md): the gateway's `underpayments` work queue and report read this.
-- expected_cents: the contract's allowed amount (min(rate x units, charge)); allowed_cents:
-- the payer's (AMT*B6, else paid plus patient share); shortfall_cents = expected - allowed.
CREATE VIEW underpayment_v1 AS
SELECT id AS underpayment_id, posting_id, tenant, claim_id, payer_id, line_number,
       procedure, modifiers, place_of_service, units, service_date,
       contracted_cents AS expected_cents, allowed_cents, paid_cents, shortfall_cents, basis,
       flagged_at, resolved_at
FROM underpayments;
