-- The payer's last answer that moved money for each claim (its lines and amounts as the
-- 835 sent them, and how far it moved the member's accumulators), so that a replacement
-- (frequency 7) or void (8) of the claim reverses exactly that answer (CLP02 22) before
-- the replacement is paid. A reversal deletes the row; a new answer replaces it.
CREATE TABLE answers (
    payer_id               text NOT NULL,
    patient_control_number text NOT NULL,
    tenant                 text NOT NULL,
    payer_claim_number     text NOT NULL,
    answer                 jsonb NOT NULL,
    answered_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payer_id, patient_control_number)
);
