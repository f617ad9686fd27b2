-- Appeals (issue 29 part 3): a tracked case per appeal of a denied or reduced claim.
-- drafted -> sent -> decided; the payer's reprocessing 835 decides it (overturned when
-- it paid more than the claim had when the appeal was drafted, else upheld).
CREATE TABLE appeals (
    appeal_id           text PRIMARY KEY,
    tenant              text NOT NULL,
    claim_id            text NOT NULL,
    payer_id            text NOT NULL,
    payer_claim_number  text NOT NULL,
    category            text NOT NULL,
    lines               jsonb NOT NULL,
    attachments         text[] NOT NULL DEFAULT '{}',
    state               text NOT NULL CHECK (state IN ('drafted', 'sent', 'decided')),
    outcome             text CHECK (outcome IN ('upheld', 'overturned')),
    determination_date  date NOT NULL,
    deadline            date NOT NULL,
    answer_due          date,
    paid_before_cents   bigint NOT NULL,
    paid_after_cents    bigint,
    letter              bytea NOT NULL,
    drafted_by          text NOT NULL,
    drafted_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    decided_at          timestamptz,
    -- the timers' alerts, once each: a drafted appeal near its deadline, a sent one
    -- whose answer is overdue
    deadline_warned_at  timestamptz,
    overdue_at          timestamptz
);
-- one open appeal a claim
CREATE UNIQUE INDEX appeals_open ON appeals (claim_id) WHERE state <> 'decided';
CREATE INDEX appeals_tenant ON appeals (tenant, state, deadline);
CREATE INDEX appeals_drafted ON appeals (deadline) WHERE state = 'drafted' AND deadline_warned_at IS NULL;
CREATE INDEX appeals_sent ON appeals (answer_due) WHERE state = 'sent' AND overdue_at IS NULL;

-- The appeals as others read them (docs/views.md): the gateway's appeal routes, the
-- demo's summary. letter: the PDF sent to the payer.
CREATE VIEW appeal_v1 AS
SELECT appeal_id, tenant, claim_id, payer_id, payer_claim_number, category, lines,
       attachments, state, outcome, determination_date, deadline, answer_due,
       paid_before_cents, paid_after_cents, drafted_by, drafted_at, sent_at, decided_at,
       letter, deadline_warned_at, overdue_at
FROM appeals;
