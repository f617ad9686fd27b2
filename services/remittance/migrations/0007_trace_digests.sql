-- A payment trace (TRN02) is posted from one file's statement of it. Each trace posted
-- keeps a digest of the money its file stated (payment, claims, adjustments, PLB); a
-- later file with the same trace and the same digest is a re-delivery (its claims are
-- duplicates), one with another digest is held for a person ('quarantined'), never
-- posted: a claim under another CLP07 or status would post a second time.
-- Traces posted before this migration have no digest and are not compared.
CREATE TABLE remit_traces (
    tenant        text NOT NULL,
    payer_id      text NOT NULL,
    trace_number  text NOT NULL,
    digest        text NOT NULL,
    remit_id      bigint NOT NULL REFERENCES remits,
    PRIMARY KEY (tenant, payer_id, trace_number)
);

ALTER TABLE remits DROP CONSTRAINT remits_status_check,
    ADD CONSTRAINT remits_status_check
        CHECK (status IN ('posted', 'unbalanced', 'unreadable', 'duplicate', 'quarantined'));
DROP INDEX remits_open;
CREATE INDEX remits_open ON remits (received_at)
    WHERE status IN ('unbalanced', 'unreadable', 'quarantined') AND resolved_at IS NULL;
CREATE OR REPLACE VIEW remit_work_queue AS
    SELECT id, tenant, payer_id, trace_number, source, status, problems, received_at
    FROM remits
    WHERE status IN ('unbalanced', 'unreadable', 'quarantined') AND resolved_at IS NULL;
