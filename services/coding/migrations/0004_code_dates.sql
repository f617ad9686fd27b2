-- Dated code sets (issue 30 part 1): when each ICD-10-CM, HCPCS Level II and CPT code is
-- in force. code_dates holds the ranges the scrubber reads (both ends inclusive; NULL
-- effective_date: since before the first release loaded; NULL termination_date: still in
-- force in the latest). ICD-10-CM ranges are worked out from the releases loaded
-- (icd10cm_release_codes: each release's billable codes, from the date it took effect).
CREATE TABLE code_dates (
    system           text NOT NULL CHECK (system IN ('icd10cm', 'hcpcs', 'cpt')),
    code             text NOT NULL,
    effective_date   date,
    termination_date date,
    source           text NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (effective_date IS NULL OR termination_date IS NULL OR effective_date <= termination_date)
);
CREATE INDEX code_dates_code ON code_dates (system, code);

CREATE TABLE icd10cm_release_codes (
    release_start date NOT NULL,
    code          text NOT NULL,
    PRIMARY KEY (release_start, code)
);

CREATE TABLE code_set_releases (
    system        text NOT NULL,
    release_start date NOT NULL,
    source        text NOT NULL,
    codes         integer NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, release_start)
);
