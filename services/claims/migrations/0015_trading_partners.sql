-- Each tenant's trading-partner identity with its clearinghouse (services/claims/partners.py
-- says what each column means; `rcm partners import FILE.csv --tenant T` loads it): the
-- ISA sender and receiver, the GS application codes, the 837's submitter (1000A, with
-- its PER contact) and receiver (1000B). A tenant without a row is sent under the
-- install's RCM_X12_* settings.
CREATE TABLE trading_partners (
    tenant                  text        PRIMARY KEY,
    isa_sender_qualifier    text        NOT NULL,
    isa_sender_id           text        NOT NULL,
    isa_receiver_qualifier  text        NOT NULL,
    isa_receiver_id         text        NOT NULL,
    gs_sender_code          text        NOT NULL,
    gs_receiver_code        text        NOT NULL,
    submitter_name          text        NOT NULL,
    submitter_id            text        NOT NULL,
    contact_name            text        NOT NULL,
    contact_phone           text        NOT NULL,
    contact_email           text,
    receiver_name           text        NOT NULL,
    receiver_id             text        NOT NULL,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
