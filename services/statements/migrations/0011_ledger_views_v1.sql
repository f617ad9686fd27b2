-- Views of issue 29's ledger work (docs/views.md).

-- Each command on an account and what became of it.
CREATE VIEW ledger_request_v1 AS
SELECT tenant, request_id, guarantor_id, claim_id, action, direction, amount_cents, reason,
       requested_by, role, requested_at, status, decided_by, decided_at, detail
FROM ledger_requests;

-- Accounts holding the patient's money: the credit (money on no claim) per guarantor.
CREATE VIEW credit_balance_v1 AS
SELECT tenant, guarantor_id, -sum(amount_cents)::bigint AS credit_cents, max(at) AS since
FROM ledger WHERE claim_id IS NULL
GROUP BY tenant, guarantor_id HAVING sum(amount_cents) < 0;
