-- A scheduled delivery's event body is written once and read back whole when it is due.
-- json keeps the text where jsonb parsed and printed it, and lz4 compresses it several
-- times faster than the default pglz (docs/performance.md).
ALTER TABLE scheduled ALTER COLUMN body TYPE json USING body::json;
SELECT compress_lz4('scheduled', 'body');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE scheduled;
