-- An outbox row's headers are written once and read back whole by the relay; nothing
-- queries inside them. jsonb parses the text into its binary form on the way in and
-- prints it again on the way out (about 10 us a row here, twice); json only checks the
-- syntax and keeps the text. The table holds only rows not yet relayed, so the rewrite
-- this needs is instant.
ALTER TABLE outbox ALTER COLUMN headers TYPE json USING headers::json;
