-- What the payer simulator lets others read (docs/views.md). A view is a contract: its
-- columns keep their names and meaning. A plain projection: its queries use the table's
-- indexes.

-- Each claim of a received 837 the payer will adjudicate (done_at: when it did).
CREATE VIEW pending_adjudication_v1 AS
SELECT id AS adjudication_id, tenant, payer_id, patient_control_number, due_at, done_at
FROM pending_adjudications;
