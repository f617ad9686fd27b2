-- A CLP whose CLP01 and CLP07 name no claim we know may be matched by patient, date and
-- charge only once remittance has applied every claim.submitted the topic held when its
-- 835 was read: then its own claim is indexed if it ever will be, and a look-alike claim
-- cannot take its payment (runtime/positions.py). This replaces a wait of 60 seconds,
-- which a lagging consumer outran.
--   remits.submitted_ends: claim.submitted's ends (per partition) when the 835 was read;
--     set when some CLP of the file waits.
--   unmatched.looked_alike_at: when patient, date and charge were tried (once).
ALTER TABLE remits ADD COLUMN submitted_ends bigint[];
ALTER TABLE unmatched ADD COLUMN looked_alike_at timestamptz;
-- CLPs queued before this migration waited by time: each gets its one try at once.
UPDATE remits SET submitted_ends = '{}'
    WHERE id IN (SELECT remit_id FROM unmatched WHERE resolved_at IS NULL);
