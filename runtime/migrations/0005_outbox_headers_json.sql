-- An outbox row's headers are written once and read back whole by the relay; nothing
-- queries inside them. The table holds only rows not yet relayed, so the conversion
-- (json_payload(), migration 0004) is instant unless a backlog waits.
SELECT json_payload('outbox', 'headers', 100000);
