-- A statement's document is written once and read back whole (to render it, or by the
-- demo's read model). json keeps the text where jsonb parsed and printed it, and lz4
-- compresses it several times faster than the default pglz (docs/performance.md).
ALTER TABLE statements ALTER COLUMN body TYPE json USING body::json;
SELECT compress_lz4('statements', 'body');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE statements;
