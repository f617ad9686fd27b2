-- The payer directory, per tenant (services/claims/payers.py says what each column
-- means; `rcm payers import FILE.csv --tenant T` loads it). A payer missing from a
-- later import is kept, inactive: claims to it are held, its history stays readable.
CREATE TABLE payers (
    tenant              text        NOT NULL,
    payer_id            text        NOT NULL,
    name                text        NOT NULL,
    filing_indicator    text        NOT NULL,
    clp06_kind          text,
    route_account       text,
    route_transport     text,
    realtime_270        boolean     NOT NULL DEFAULT false,
    realtime_276        boolean     NOT NULL DEFAULT false,
    timely_filing_days  integer     NOT NULL CHECK (timely_filing_days > 0),
    days_to_pay         integer     NOT NULL CHECK (days_to_pay > 0),
    enroll_claims       text        NOT NULL,
    enroll_era          text        NOT NULL,
    enroll_eft          text        NOT NULL,
    active              boolean     NOT NULL DEFAULT true,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, payer_id)
);

-- The directory as others read it (docs/views.md): the gateway's GET /v1/payers.
CREATE VIEW payer_v1 AS
SELECT tenant, payer_id, name, filing_indicator, clp06_kind, route_account,
       route_transport, realtime_270, realtime_276, timely_filing_days, days_to_pay,
       enroll_claims, enroll_era, enroll_eft, active, updated_at
FROM payers;
