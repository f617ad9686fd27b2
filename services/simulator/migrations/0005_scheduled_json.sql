-- A scheduled delivery's event body is written once and read back whole when it is due;
-- json_payload() (runtime migration 0005) says when this converts.
SELECT json_payload('scheduled', 'body', 100000);
