-- The clearinghouse's side of the SFTP mailbox (services/simulator/mailbox.py).

-- Each 837 file taken from the outbound folder, by name and content: a file seen again
-- (a crash before it was archived, a re-upload of the same interchange) is only archived.
CREATE TABLE mailbox_in (
    name         text NOT NULL,
    sha256       text NOT NULL,
    received_id  bigint REFERENCES received,
    -- answered; duplicate-interchange (the interchange came under another name);
    -- unreadable (no envelope to answer)
    outcome      text NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, sha256)
);

-- The answers (999, 277CA, 835), recorded in the transaction that made them and written
-- into the inbound folder when due (temporary name, then renamed).
CREATE TABLE mailbox_out (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL,
    body        text NOT NULL,
    -- the claim statuses the file makes true once written: [[payer, CLM01, state], ...]
    states      jsonb NOT NULL DEFAULT '[]',
    due_at      timestamptz NOT NULL,
    written_at  timestamptz
);
CREATE INDEX mailbox_out_due ON mailbox_out (due_at) WHERE written_at IS NULL;
