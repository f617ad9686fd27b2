-- A claim's input (its eligibility.checked) is written once per coding and read back
-- whole only when a person fixes the claim; json_payload() (runtime migration 0005) says
-- when this converts.
SELECT json_payload('claim_inputs', 'checked', 100000);
