-- The patient accounts others may read (docs/views.md). A view is a contract: its columns
-- keep their names and meaning; a change that breaks them is a new view (ledger_v2), and
-- the old one stays until its last reader has moved. The views are plain projections, so
-- a query on them uses the tables' indexes as if it named the tables.

-- The patient ledger: what each guarantor owes, entry by entry (a charge is positive, a
-- payment or adjustment negative; claim_id NULL: money not applied to a claim).
CREATE VIEW ledger_v1 AS
SELECT id AS entry_id, tenant, guarantor_id, claim_id, kind, reason, amount_cents,
       payment_id, payer_id, at
FROM ledger;

-- A claim on a patient account: whether insurance is done with it, when it was first billed.
CREATE VIEW claim_charge_v1 AS
SELECT claim_id, tenant, guarantor_id, date_of_service, charge_cents, self_pay,
       insurance_final, patient_responsibility_cents, first_billed_on, closed_at
FROM claim_charges;

-- The statements sent, with the document each rendered from (body).
CREATE VIEW statement_v1 AS
SELECT statement_id, tenant, guarantor_id, claim_ids, balance_cents, aging_bucket,
       statement_date, due_date, reason, created_at, body
FROM statements;
