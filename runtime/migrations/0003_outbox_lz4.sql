-- An outbox row lives for milliseconds (written, relayed, deleted), and some values are
-- large: every claim.submitted carries its whole 837 interchange. PostgreSQL's default
-- pglz spent about 6.9 ms compressing one interchange's worth of claim.submitted rows;
-- lz4 takes about 1.1 ms for the same rows and WAL bytes (pg_stat_statements,
-- docs/performance.md). A server built without lz4 keeps pglz.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE outbox ALTER COLUMN value SET COMPRESSION lz4;
    END IF;
END
$$;
