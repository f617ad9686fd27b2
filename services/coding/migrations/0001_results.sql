-- One row per coding pass of a claim: what the scrubber found and what it decided.
CREATE TABLE coding_results (
    id          bigserial PRIMARY KEY,
    claim_id    text NOT NULL,
    tenant      text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('coded', 'held')),
    findings    jsonb NOT NULL,
    coded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coding_results_claim ON coding_results (claim_id, id);
