-- What eligibility lets others read of the front desk's checks (docs/views.md): the
-- figures a 271 gave, not the question's names or birth date.
CREATE VIEW benefit_check_v1 AS
SELECT check_id, tenant, patient_id, payer_id, date_of_service, requested_by, state,
       active, copay_cents, deductible_remaining_cents, coinsurance_percent,
       out_of_pocket_remaining_cents, problem, requested_at, answered_at
FROM benefit_checks;
