-- Statements delivered the way a practice's patients get them: an email with a link
-- (for a guarantor who chose paperless statements and gave an address) or a printed
-- statement in a print-and-mail vendor's batch (services/statements/delivery.py).
ALTER TABLE accounts ADD COLUMN email text;
ALTER TABLE accounts ADD COLUMN paperless boolean NOT NULL DEFAULT false;

-- One row a statement, queued when the statement is issued. status: queued -> batched
-- (a print batch named, its folder not yet written) -> sent; or failed after the last
-- attempt (detail: a reason without PHI, such as an SMTP reply code).
CREATE TABLE deliveries (
    statement_id  text PRIMARY KEY REFERENCES statements,
    tenant        text NOT NULL,
    channel       text CHECK (channel IN ('email', 'print')),
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'batched', 'sent', 'failed')),
    attempts      int NOT NULL DEFAULT 0,
    next_try_at   timestamptz NOT NULL DEFAULT now(),
    batch         text,
    detail        text,
    html          text,
    sent_at       timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_try_at) WHERE status IN ('queued', 'batched');

-- Statements issued before deliveries existed were never delivered by this service.
INSERT INTO deliveries (statement_id, tenant, status, detail)
SELECT statement_id, tenant, 'failed', 'issued before statement delivery existed'
FROM statements;

-- How each statement went out, and the page its email links to: the gateway shows it to
-- the person who follows the link and gives the guarantor's last name and ZIP code.
CREATE VIEW statement_delivery_v1 AS
SELECT d.statement_id, d.tenant, d.channel, d.status, d.attempts, d.batch, d.detail,
       d.sent_at, d.html, a.last_name, left(a.address->>'postal_code', 5) AS postal_code
FROM deliveries d
JOIN statements s USING (statement_id)
JOIN accounts a ON a.tenant = s.tenant AND a.guarantor_id = s.guarantor_id;
