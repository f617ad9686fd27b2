-- compress_lz4(table, column): the column's large values are compressed with lz4, which
-- is several times faster than PostgreSQL's default pglz; a server built without lz4
-- keeps pglz. Service migrations call it too.
CREATE OR REPLACE FUNCTION compress_lz4(p_table regclass, p_column name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', p_table, p_column);
    END IF;
END $$;

-- An outbox row lives for milliseconds (written, relayed, deleted), and some values are
-- large: every claim.submitted carries its whole 837 interchange. pglz spent about 6.9 ms
-- compressing one interchange's worth of claim.submitted rows; lz4 takes about 1.1 ms
-- for the same rows and WAL bytes (pg_stat_statements, docs/performance.md).
SELECT compress_lz4('outbox', 'value');
