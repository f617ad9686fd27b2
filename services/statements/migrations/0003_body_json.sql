-- A statement's document is written once and read back whole (to render it, or by the
-- demo's read model); json_payload() (runtime migration 0005) says when this converts.
SELECT json_payload('statements', 'body', 100000);
