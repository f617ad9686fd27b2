-- denial_v1 keeps its meaning: what the payer denied (not what it moved to the patient).
CREATE OR REPLACE VIEW denial_v1 AS
SELECT id AS denial_id, posting_id, tenant, claim_id, payer_id, line_number, procedure,
       cas_group, reason, amount_cents, category, remarks, created_at, resolved_at
FROM denials
WHERE category <> 'patient_responsibility';

-- Each denied or reduced line as a work item (docs/views.md): the codes in words, the
-- category and the suggested action, with the posting's payer claim number (what a
-- replacement's REF*F8 carries). open: not resolved and its posting not reversed (a
-- replacement or an appeal the payer reprocessed answers it with a new posting).
CREATE VIEW line_denial_v1 AS
SELECT d.id AS denial_id, d.posting_id, d.tenant, d.claim_id, d.payer_id,
       p.payer_claim_number, p.adjudication_status, d.line_number, d.procedure,
       d.cas_group, d.reason, d.reason_text, d.remarks, d.remark_texts, d.amount_cents,
       d.category, d.action, d.created_at, d.resolved_at,
       (d.resolved_at IS NULL AND p.reversed_by_posting_id IS NULL) AS open
FROM denials d JOIN claim_postings p ON p.id = d.posting_id;
