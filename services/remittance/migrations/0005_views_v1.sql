-- The remittance others may read (docs/views.md). A view is a contract: its columns keep
-- their names and meaning; a change that breaks them is a new view (posting_v2), and the
-- old one stays until its last reader has moved. The views are plain projections, so a
-- query on them uses the tables' indexes as if it named the tables.

-- Each 835 received, and what became of it (posted, unbalanced, unreadable, duplicate).
CREATE VIEW remit_v1 AS
SELECT id AS remit_id, tenant, payer_id, trace_number, source, status, problems,
       received_at, resolved_at, x12
FROM remits;

-- A claim payment (CLP) posted to a claim; a reversal names the posting it reverses.
CREATE VIEW posting_v1 AS
SELECT id AS posting_id, remit_id, tenant, payer_id, trace_number, claim_id,
       payer_claim_number, status_code, adjudication_status, denial_category, charge_cents,
       paid_cents, patient_responsibility_cents, posted_at, reverses_posting_id,
       reversed_by_posting_id
FROM claim_postings;

-- The double-entry lines of a posting (line_number 0: the claim level); the lines of a
-- posting sum to zero.
CREATE VIEW ledger_line_v1 AS
SELECT id AS line_id, posting_id, claim_id, line_number, procedure, kind, category,
       cas_group, reason, amount_cents
FROM ledger_lines;

-- A denied line or claim (a non-patient adjustment of a denial), to fix, appeal or
-- write off.
CREATE VIEW denial_v1 AS
SELECT id AS denial_id, posting_id, tenant, claim_id, payer_id, line_number, procedure,
       cas_group, reason, amount_cents, category, remarks, created_at, resolved_at
FROM denials;

-- A claim payment no claim could be found for (resolved_at: when it was posted after all).
CREATE VIEW unmatched_v1 AS
SELECT id AS unmatched_id, remit_id, tenant, payer_id, trace_number,
       patient_control_number, payer_claim_number, status_code, amount_cents, charge_cents,
       reason, service_date, received_at, resolved_at, resolved_claim_id
FROM unmatched;
