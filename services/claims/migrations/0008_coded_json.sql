-- The coded claim is written once and read back whole (the 837 batcher, the ack timer);
-- the one query that looks inside it (the gateway's patient id of a claim, one row) works
-- on json as well. json_payload() (runtime migration 0005) says when this converts.
SELECT json_payload('claims', 'coded', 100000);
