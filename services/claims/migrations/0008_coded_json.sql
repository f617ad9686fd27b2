-- The coded claim is written once and read back whole (the 837 batcher, the ack timer);
-- the one query that looks inside it (the gateway's patient id of a claim, one row) works
-- on json as well. json keeps the text where jsonb parsed it on the way in and printed it
-- on the way out (docs/performance.md has the figures). On a large claims table this
-- ALTER rewrites the table under an exclusive lock: run it in a quiet window.
ALTER TABLE claims ALTER COLUMN coded TYPE json USING coded::json;
SELECT compress_lz4('claims', 'coded');
-- The rewrite leaves the planner without the table's statistics until autovacuum
-- comes round; gather them now. (Services still on the previous release keep
-- working: PostgreSQL assigns jsonb to a json column.)
ANALYZE claims;
