-- The claim saga: current state per claim and its append-only timeline.
CREATE TABLE claims (
    claim_id                     text PRIMARY KEY,
    tenant                       text NOT NULL,
    encounter_id                 text,
    state                        text NOT NULL,
    hold_stage                   text,
    self_pay                     boolean NOT NULL DEFAULT false,
    payer_id                     text,
    patient_control_number       text,
    date_of_service              date,
    total_charge_cents           bigint,
    frequency_code               text,
    payer_claim_number           text,
    paid_cents                   bigint NOT NULL DEFAULT 0,
    adjusted_cents               bigint NOT NULL DEFAULT 0,
    patient_responsibility_cents bigint NOT NULL DEFAULT 0,
    coded                        jsonb,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    state_since                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_state ON claims (tenant, state);

CREATE TABLE claim_events (
    id          bigserial PRIMARY KEY,
    claim_id    text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    event_id    text,
    event_type  text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('transition', 'late', 'anomaly', 'note')),
    from_state  text,
    to_state    text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX claim_events_claim ON claim_events (claim_id, id);

-- The timeline is append-only.
CREATE FUNCTION claim_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_events is append-only';
END $$;
CREATE TRIGGER claim_events_no_update BEFORE UPDATE OR DELETE ON claim_events
    FOR EACH ROW EXECUTE FUNCTION claim_events_append_only();

-- ISA13 / GS06 / ST02 come from sequences, so they stay unique across restarts.
CREATE SEQUENCE interchange_control MINVALUE 1 MAXVALUE 999999999 CYCLE;
CREATE SEQUENCE group_control MINVALUE 1 MAXVALUE 999999999 CYCLE;

CREATE TABLE interchanges (
    interchange_control_number bigint PRIMARY KEY,
    group_control_number       bigint NOT NULL,
    tenant                     text NOT NULL,
    payer_id                   text NOT NULL,
    claim_ids                  text[] NOT NULL,
    x12                        text NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now()
);

-- Every submission; an original (frequency 1) CLM01 can be sent only once.
CREATE TABLE submissions (
    id                         bigserial PRIMARY KEY,
    claim_id                   text NOT NULL,
    patient_control_number     text NOT NULL,
    frequency_code             text NOT NULL,
    interchange_control_number bigint NOT NULL REFERENCES interchanges,
    at                         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX submissions_one_original
    ON submissions (patient_control_number) WHERE frequency_code = '1';
