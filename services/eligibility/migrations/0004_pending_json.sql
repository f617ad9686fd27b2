-- A queued check's encounter is written once and read back whole when the check is
-- asked; json_payload() (runtime migration 0005) says when this converts.
SELECT json_payload('pending_checks', 'encounter', 100000);
