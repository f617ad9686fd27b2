-- json_payload(table, column, max_rows): turns a jsonb column that is written once and read
-- back whole into json, lz4-compressed (docs/performance.md: jsonb parsed each document on
-- the way in and printed it on the way out). The change rewrites the table under an
-- exclusive lock (11,000-26,000 rows a second on the local stack), so a migration converts
-- a table only while it has at most max_rows rows. A larger one keeps jsonb, with lz4 for
-- new values, and a warning in the service's log names it: every service reads and writes
-- either type the same, and `rcm db json-payloads` converts it when the operator chooses.
-- max_rows NULL: no limit. Returns whether the column is json now.
CREATE OR REPLACE FUNCTION json_payload(p_table regclass, p_column name, p_max_rows bigint)
RETURNS boolean LANGUAGE plpgsql
-- the schema it is made in, whoever calls it (rcm db json-payloads calls it from outside)
SET search_path FROM CURRENT AS $$
DECLARE
    v_type text;
    v_rows bigint;
BEGIN
    SELECT format_type(atttypid, atttypmod) INTO v_type
      FROM pg_attribute WHERE attrelid = p_table AND attname = p_column AND NOT attisdropped;
    IF v_type IS NULL THEN
        RAISE EXCEPTION 'json_payload: % has no column %', p_table, p_column;
    END IF;
    IF v_type = 'jsonb' AND p_max_rows IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %s) t', p_table, p_max_rows + 1)
           INTO v_rows;
    END IF;
    IF v_type = 'jsonb' AND v_rows > p_max_rows THEN
        RAISE WARNING '%.% stays jsonb: more than % rows to rewrite under a lock; run rcm db json-payloads in a quiet window',
            p_table, p_column, p_max_rows;
    ELSIF v_type = 'jsonb' THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE json USING %I::json',
                       p_table, p_column, p_column);
        -- the rewrite leaves the planner without the table's statistics
        EXECUTE format('ANALYZE %s', p_table);
        v_type := 'json';
    END IF;
    PERFORM compress_lz4(p_table, p_column);
    RETURN v_type = 'json';
END $$;
