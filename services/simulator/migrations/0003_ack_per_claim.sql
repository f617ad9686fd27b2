-- An interchange's acknowledgements for its other claims wait for each claim's own
-- claim.submitted, so every claim's acks travel in that claim's trace.
ALTER TABLE scheduled ALTER COLUMN due_at DROP NOT NULL;
ALTER TABLE scheduled ADD COLUMN await_claim text;
ALTER TABLE scheduled ADD COLUMN delay_s double precision NOT NULL DEFAULT 0;
CREATE INDEX scheduled_await ON scheduled (tenant, await_claim) WHERE due_at IS NULL;
