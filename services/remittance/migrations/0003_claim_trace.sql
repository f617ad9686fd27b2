-- The claim's own trace context (from claim.submitted), so that claim.adjudicated continues
-- the claim's trace even though one 835 carries many claims.
ALTER TABLE submitted_claims ADD COLUMN traceparent text;
