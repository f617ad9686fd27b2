-- Each statement's PDF, rendered by this room (render.py) from the statement's body after
-- it is issued (pdfs.py, a timer off the posting path), so the billing office can download
-- the very document the patient got without another room rendering it.
CREATE TABLE statement_pdfs (
    statement_id  text PRIMARY KEY REFERENCES statements,
    tenant        text NOT NULL,
    pdf           bytea NOT NULL,
    rendered_at   timestamptz NOT NULL DEFAULT now()
);

-- Which statements still wait for theirs (every statement issued before this one too).
ALTER TABLE statements ADD COLUMN pdf_due boolean NOT NULL DEFAULT true;
CREATE INDEX statements_pdf_due ON statements (created_at) WHERE pdf_due;

CREATE VIEW statement_pdf_v1 AS
SELECT p.statement_id, p.tenant, s.guarantor_id, p.pdf, p.rendered_at
FROM statement_pdfs p JOIN statements s USING (statement_id);
