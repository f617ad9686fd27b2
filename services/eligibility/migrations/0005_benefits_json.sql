-- A check's benefits (about 0.9 KB) are written once, for the record, and read back
-- whole; json_payload() (runtime migration 0005) says when this converts.
SELECT json_payload('eligibility_checks', 'benefits', 100000);
