-- 835 files as received, claim postings and ledger lines. Posting is keyed so that
-- the same 835 delivered twice posts once.
CREATE TABLE remits (
    id            bigserial PRIMARY KEY,
    tenant        text NOT NULL,
    payer_id      text NOT NULL,
    trace_number  text NOT NULL,
    source        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('posted', 'unbalanced', 'unreadable', 'duplicate')),
    problems      jsonb NOT NULL DEFAULT '[]',
    x12           text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX remits_trace ON remits (tenant, payer_id, trace_number);

CREATE TABLE claim_postings (
    id                           bigserial PRIMARY KEY,
    remit_id                     bigint NOT NULL REFERENCES remits,
    tenant                       text NOT NULL,
    payer_id                     text NOT NULL,
    trace_number                 text NOT NULL,
    claim_id                     text NOT NULL,
    payer_claim_number           text NOT NULL DEFAULT '',
    status_code                  text NOT NULL,
    charge_cents                 bigint NOT NULL,
    paid_cents                   bigint NOT NULL,
    patient_responsibility_cents bigint NOT NULL,
    posted_at                    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, payer_id, trace_number, claim_id, payer_claim_number, status_code)
);
CREATE INDEX claim_postings_claim ON claim_postings (claim_id);

CREATE TABLE ledger_lines (
    id            bigserial PRIMARY KEY,
    posting_id    bigint NOT NULL REFERENCES claim_postings,
    claim_id      text NOT NULL,
    line_number   int NOT NULL,            -- 0: claim level
    procedure     text,
    kind          text NOT NULL CHECK (kind IN ('charge', 'payment', 'adjustment')),
    cas_group     text,
    reason        text,
    amount_cents  bigint NOT NULL
);
CREATE INDEX ledger_lines_claim ON ledger_lines (claim_id);

CREATE TABLE provider_adjustments (
    id            bigserial PRIMARY KEY,
    remit_id      bigint NOT NULL REFERENCES remits,
    provider_id   text NOT NULL,
    reason        text NOT NULL,
    reference     text,
    amount_cents  bigint NOT NULL
);
