-- A crossover payer's 835 that arrives before the earlier payer's (a restart, a slow
-- payer): it waits here and is applied once the claim has crossed over to that payer,
-- so the claim's money is the last payer's answer, never the earlier one read late.
CREATE TABLE early_answers (
    claim_id  text NOT NULL,
    event_id  text NOT NULL,
    event     jsonb NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, event_id)
);
