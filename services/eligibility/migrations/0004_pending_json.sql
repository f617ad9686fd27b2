-- A queued check's encounter is written once and read back whole when the check is
-- asked. json keeps the text where jsonb parsed and printed it, and lz4 compresses it
-- several times faster than the default pglz (docs/performance.md).
ALTER TABLE pending_checks ALTER COLUMN encounter TYPE json USING encounter::json;
SELECT compress_lz4('pending_checks', 'encounter');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE pending_checks;
