-- Appeals per payer (issue 29 part 3): days from the initial determination to file an
-- appeal (Medicare redetermination: 120) and days the payer takes to decide one (60).
-- NULL: the directory does not say; the claim cannot be appealed here. auto_resubmit:
-- the denial categories ("correctable;write_off") for which the payer takes a denied
-- claim sent again automatically (once, as a replacement); empty: never.
ALTER TABLE payers
    ADD COLUMN appeal_days        integer CHECK (appeal_days > 0),
    ADD COLUMN appeal_answer_days integer CHECK (appeal_answer_days > 0),
    ADD COLUMN auto_resubmit      text NOT NULL DEFAULT '';

CREATE OR REPLACE VIEW payer_v1 AS
SELECT tenant, payer_id, name, filing_indicator, clp06_kind, route_account,
       route_transport, realtime_270, realtime_276, timely_filing_days, days_to_pay,
       enroll_claims, enroll_era, enroll_eft, active, updated_at, appeal_days,
       appeal_answer_days, auto_resubmit
FROM payers;
