-- What the connector lets others read (docs/views.md): its receipts, no file content.
CREATE VIEW receipts_v1 AS
SELECT id AS receipt_id, tenant, account, name, sha256, size_bytes, outcome, reason, kind,
       control_number, remote_done, at
FROM receipts;

CREATE VIEW outbound_files_v1 AS
SELECT id AS outbound_id, tenant, account, name, sha256, control_number, state, attempts,
       last_error, next_try_at, uploaded_at
FROM outbound_files;
