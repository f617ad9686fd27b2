-- A check's benefits (about 0.9 KB) are written once, for the record, and read back whole;
-- json keeps the text where jsonb parsed it, and lz4 compresses it several times faster
-- than the default pglz (docs/performance.md).
ALTER TABLE eligibility_checks ALTER COLUMN benefits TYPE json USING benefits::json;
SELECT compress_lz4('eligibility_checks', 'benefits');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE eligibility_checks;
