-- Batching: a coded claim waits in CODED with what it goes out as; the batcher
-- gathers them per tenant and payer into one interchange.
ALTER TABLE claims ADD COLUMN outgoing_frequency text
    CHECK (outgoing_frequency IS NULL OR outgoing_frequency IN ('1', '7', '8'));
CREATE INDEX claims_to_send ON claims (state_since)
    WHERE state = 'CODED' AND outgoing_frequency IS NOT NULL;

-- How often an interchange was sent again after no acknowledgement came.
ALTER TABLE interchanges ADD COLUMN resends integer NOT NULL DEFAULT 0;
ALTER TABLE interchanges ADD COLUMN last_sent_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE interchanges ADD COLUMN frequency_codes text[];

-- Acknowledgements and remittances quote CLM01: find the claim of any CLM01 it was sent under.
CREATE INDEX submissions_pcn ON submissions (patient_control_number);
CREATE INDEX submissions_claim ON submissions (claim_id, id);

-- Timers in PostgreSQL, so they survive restarts. One per claim and kind:
--   ack     no 999/277CA by due_at -> alert, resend the interchange
--   remit   no 835 by the payer's usual day -> 276 status inquiry
--   filing  timely-filing warning points, then the deadline
CREATE TABLE claim_timers (
    claim_id  text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('ack', 'remit', 'filing')),
    tenant    text NOT NULL,
    due_at    timestamptz NOT NULL,
    attempts  integer NOT NULL DEFAULT 0,
    detail    jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (claim_id, kind)
);
CREATE INDEX claim_timers_due ON claim_timers (due_at);
