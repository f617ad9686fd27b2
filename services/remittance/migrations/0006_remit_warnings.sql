-- An 835 read through recoverable faults (a wrong SE count, a date that is not one, ...)
-- is posted, and its warnings wait for a person to look at: one row per file, each
-- warning {"segment", "segment_id", "position", "message", "count"}.
ALTER TABLE remits ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
CREATE INDEX remits_warned ON remits (tenant, received_at)
    WHERE warnings <> '[]'::jsonb AND resolved_at IS NULL;

-- remit_v1 gains the column at its end (adding a column is not a break: docs/views.md).
CREATE OR REPLACE VIEW remit_v1 AS
SELECT id AS remit_id, tenant, payer_id, trace_number, source, status, problems,
       received_at, resolved_at, x12, warnings
FROM remits;
