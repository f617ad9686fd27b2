-- The claims others may read (docs/views.md). A view is a contract: its columns keep
-- their names and meaning; a change that breaks them is a new view (claim_v2), and the
-- old one stays until its last reader has moved. The views are plain projections, so a
-- query on them uses the tables' indexes as if it named the tables.

-- A claim as the saga holds it now. patient_id comes from the coded claim (one row's
-- lookup: the gateway's audit of who a claim belongs to).
CREATE VIEW claim_v1 AS
SELECT claim_id, tenant, encounter_id, state, hold_stage, self_pay, payer_id,
       patient_control_number, date_of_service, total_charge_cents, paid_cents,
       adjusted_cents, patient_responsibility_cents, payer_claim_number, frequency_code,
       created_at, state_since, coded->'patient'->>'id' AS patient_id
FROM claims;

-- What happened to a claim, in order (seq): transitions, late and anomalous events, notes.
CREATE VIEW claim_timeline_v1 AS
SELECT id AS seq, claim_id, at, event_type, kind, from_state, to_state, detail
FROM claim_events;

-- Each time a claim went to the payer (an original, a replacement or a void).
CREATE VIEW claim_submission_v1 AS
SELECT id AS seq, claim_id, patient_control_number, frequency_code,
       interchange_control_number, at AS submitted_at
FROM submissions;

-- The 837P interchanges sent, with the claims each carried.
CREATE VIEW interchange_v1 AS
SELECT interchange_control_number, group_control_number, tenant, payer_id, claim_ids,
       frequency_codes, x12, created_at, last_sent_at, resends
FROM interchanges;
