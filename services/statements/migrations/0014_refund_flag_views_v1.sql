-- Money the practice holds for a guarantor with nothing left to apply it to, flagged for
-- a refund (docs/views.md): open until refunded or applied to a later visit.
CREATE VIEW refund_flag_v1 AS
SELECT id AS flag_id, tenant, guarantor_id, payment_id, amount_cents, status, flagged_at
FROM refund_flags;
