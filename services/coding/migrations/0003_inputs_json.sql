-- A claim's input (its eligibility.checked) is written once per coding and read back
-- whole only when a person fixes the claim. json keeps the text where jsonb parsed and
-- printed it, and lz4 compresses it several times faster than the default pglz: the
-- statement that writes a batch's inputs takes about a third of its time
-- (pg_stat_statements, docs/performance.md).
ALTER TABLE claim_inputs ALTER COLUMN checked TYPE json USING checked::json;
SELECT compress_lz4('claim_inputs', 'checked');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE claim_inputs;
