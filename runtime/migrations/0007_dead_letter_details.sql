-- The full text of a dead letter's error (str(exc) and its traceback). It can hold
-- patient data (PostgreSQL's "Failing row contains (...)", pydantic's input_value), so
-- it is kept only here: not in the dlq_error header, dead_letters.error, logs, metrics
-- or spans (runtime/errors.py), no grant to anyone but the schema's owner, and deleted
-- after error_detail_retention_days (Service.prune_processed).
CREATE TABLE IF NOT EXISTS dead_letter_details (
    dead_letter_id  bigint PRIMARY KEY REFERENCES dead_letters ON DELETE CASCADE,
    error_type      text NOT NULL,
    sqlstate        text,
    detail          text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letter_details_at ON dead_letter_details USING brin (at);
REVOKE ALL ON dead_letter_details FROM PUBLIC;
