-- A decided check now leaves pending_checks (handlers._record deletes it): the decision
-- is in eligibility_checks and every attempt in exchanges, so the queue holds only checks
-- still waiting, and no longer keeps every encounter's document (PHI) once decided. An
-- update to 'done' also rewrote the whole row (its encounter, 1.7 KB) into the WAL.
-- The checks decided before this migration go now. The columns state and done_at stay;
-- 'pending' is the only state written.
DELETE FROM pending_checks WHERE state = 'done';
