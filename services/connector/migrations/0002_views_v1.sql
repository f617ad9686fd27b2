-- What the connector lets others read (docs/views.md): its receipts, no file content.
CREATE VIEW receipts_v1 AS
SELECT r.id AS receipt_id, r.tenant, r.account, r.name, r.sha256, r.size_bytes, r.outcome,
       r.reason, f.kind, f.control_number, r.remote_done, r.at
FROM receipts r LEFT JOIN inbound_files f ON f.id = r.file_id;

CREATE VIEW outbound_files_v1 AS
SELECT id AS outbound_id, tenant, account, name, sha256, control_number, state, attempts,
       last_error, uploaded_at
FROM outbound_files;
