-- Issue 29 part 6: a payer's overpayment recovery tied back to its claim and line
-- (docs/views.md). Two ways a payer takes money back:
--  - a PLB adjustment WO (overpayment recovery) or 72 (authorized return), whose
--    reference (PLB03-2) names the claim by the payer's claim number (CLP07) or by our
--    claim id (CLP01): tied to the last posting of that claim by this payer that is not a
--    reversal (claim_id NULL when no posting matches; a person ties it);
--  - a claim reversal (CLP02 22): each line's payment taken back, tied to the posting it
--    reverses.
-- amount_cents is positive: what the payer took back.
CREATE VIEW recoupment_v1 AS
SELECT 'plb'::text AS source, p.id AS source_id, p.tenant, p.payer_id, p.trace_number,
       p.remit_id, p.reason, p.reference, c.claim_id, c.id AS posting_id,
       NULL::int AS line_number, NULL::text AS procedure, p.amount_cents
FROM provider_adjustments p
LEFT JOIN LATERAL (
    SELECT id, claim_id FROM claim_postings c
    WHERE c.tenant = p.tenant AND c.payer_id = p.payer_id AND c.status_code <> '22'
      AND coalesce(p.reference, '') <> ''
      AND (c.payer_claim_number = p.reference OR c.claim_id = p.reference)
    ORDER BY c.id DESC LIMIT 1
) c ON true
WHERE p.reason IN ('WO', '72')
UNION ALL
SELECT 'reversal', r.id, r.tenant, r.payer_id, r.trace_number, r.remit_id, '22',
       r.payer_claim_number, r.claim_id, r.reverses_posting_id, l.line_number, l.procedure,
       l.amount_cents
FROM claim_postings r
JOIN ledger_lines l ON l.posting_id = r.id AND l.kind = 'payment' AND l.amount_cents <> 0
WHERE r.status_code = '22';
