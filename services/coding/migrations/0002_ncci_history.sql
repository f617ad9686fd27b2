-- NCCI procedure-to-procedure edits (CMS practitioner PTP file layout). An edit applies
-- to a date of service on or after effective_date and before deletion_date (NULL: in force).
CREATE TABLE ncci_ptp (
    column1            text NOT NULL,
    column2            text NOT NULL,
    effective_date     date NOT NULL,
    deletion_date      date,
    prior_1996         boolean NOT NULL DEFAULT false,
    modifier_indicator smallint NOT NULL CHECK (modifier_indicator IN (0, 1, 9)),
    rationale          text NOT NULL DEFAULT '',
    source             text NOT NULL,
    loaded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (column1, column2, effective_date)
);

-- Medically unlikely edits (CMS practitioner MUE table). The file carries no dates: each
-- load is in force from the quarter's effective_date and ends the previous quarter's rows.
CREATE TABLE ncci_mue (
    code           text NOT NULL,
    effective_date date NOT NULL,
    deletion_date  date,
    mue_value      integer NOT NULL CHECK (mue_value >= 0),
    mai            smallint NOT NULL CHECK (mai IN (1, 2, 3)),
    rationale      text NOT NULL DEFAULT '',
    source         text NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, effective_date)
);

-- CPT code numbers and descriptions from the practice's licensed CPT file.
CREATE TABLE cpt_codes (
    code        text PRIMARY KEY,
    description text NOT NULL,
    source      text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- The patient's services on coded claims, for frequency edits (G0438 once per lifetime,
-- G0439 once a year). Rewritten whenever the claim is coded again.
CREATE TABLE patient_services (
    tenant          text NOT NULL,
    patient_id      text NOT NULL,
    claim_id        text NOT NULL,
    procedure_code  text NOT NULL,
    date_of_service date NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, claim_id, procedure_code)
);
CREATE INDEX patient_services_patient ON patient_services (tenant, patient_id, procedure_code);

-- The last eligibility.checked per claim, so a fix from the work queue can be coded again.
CREATE TABLE claim_inputs (
    claim_id     text PRIMARY KEY,
    tenant       text NOT NULL,
    encounter_id text NOT NULL,
    checked      jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Which code sets and edit tables each coding pass used.
ALTER TABLE coding_results ADD COLUMN code_sets jsonb;
ALTER TABLE coding_results ADD COLUMN trigger text NOT NULL DEFAULT 'eligibility';
