-- A later payer's decision (secondary, tertiary) that arrives before an earlier payer's
-- has been posted waits here, and is posted right after the earlier one, in payer order:
-- posted first it would have been taken for the primary's (the charge posted twice).
CREATE TABLE pending_later_payers (
    claim_id  text NOT NULL,
    rank      smallint NOT NULL,
    event     jsonb NOT NULL,
    event_id  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, event_id)
);
