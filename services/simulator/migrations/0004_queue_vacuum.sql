-- The payer's queues (acknowledgements held back, adjudications due, corrections) are
-- updated once done; vacuum them by dead rows, not by a fraction of an ever-growing
-- table, so the timers' partial-index scans stay short (see eligibility 0003).
ALTER TABLE scheduled SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
ALTER TABLE pending_adjudications SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000
);
ALTER TABLE corrections SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
