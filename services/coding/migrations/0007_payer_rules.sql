-- Payer rules as data (issue 30 part 4), per tenant and payer, loaded with
-- `rcm code load-payer-rules FILE --tenant T`: one row a rule, its cells as written in
-- the file (services/coding/payer_rules.py reads them back), in force from
-- effective_date to end_date (inclusive; NULL open). A load replaces every rule of the
-- payers its file names.
CREATE TABLE payer_rules (
    tenant           text NOT NULL,
    payer_id         text NOT NULL,
    row_number       integer NOT NULL,
    rule             text NOT NULL,
    codes            text NOT NULL DEFAULT '',
    modifiers        text NOT NULL DEFAULT '',
    place_of_service text NOT NULL DEFAULT '',
    limit_text       text NOT NULL DEFAULT '',
    related_codes    text NOT NULL DEFAULT '',
    effective_date   date NOT NULL,
    end_date         date,
    version          text NOT NULL,
    PRIMARY KEY (tenant, payer_id, row_number)
);

-- Every load: which file (name and checksum) gave a payer's rules, and when.
CREATE TABLE payer_rule_loads (
    id        bigserial PRIMARY KEY,
    tenant    text NOT NULL,
    payer_id  text NOT NULL,
    version   text NOT NULL,
    rules     integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Frequency limits count the patient's services for the same payer.
ALTER TABLE patient_services ADD COLUMN payer_id text;
