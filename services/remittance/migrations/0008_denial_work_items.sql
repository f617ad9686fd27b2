-- Every denied or reduced line is a work item (issue 29): its CARC and RARCs in words,
-- a fourth category (an amount the payer assigned to the patient for a reason other than
-- cost sharing: PR-96, PR-204, ...), and the action a person takes.
ALTER TABLE denials
    ADD COLUMN reason_text  text NOT NULL DEFAULT '',
    ADD COLUMN remark_texts text[] NOT NULL DEFAULT '{}',
    ADD COLUMN action       text NOT NULL DEFAULT '',
    DROP CONSTRAINT denials_category_check,
    ADD CONSTRAINT denials_category_check CHECK (
        category IN ('correctable', 'appealable', 'write_off', 'patient_responsibility'));
CREATE INDEX denials_open_tenant ON denials (tenant, id) WHERE resolved_at IS NULL;
