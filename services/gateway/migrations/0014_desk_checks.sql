-- The front desk's benefit checks the gateway sent (issue 28): which tenant asked, so a
-- check the eligibility service has not taken yet shows "asking the payer" to that
-- tenant and 404 to any other. The answer is eligibility's (benefit_check_v1).
CREATE TABLE desk_checks (
    tenant        text NOT NULL,
    check_id      text NOT NULL,
    patient_id    text NOT NULL,
    requested_by  text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, check_id)
);
