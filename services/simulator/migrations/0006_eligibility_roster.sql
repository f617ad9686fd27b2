-- Real-time eligibility (services/simulator/eligibility.py): who each payer covers, fed
-- from encounter.created, and members asked about before the roster knew them.
-- Applied as 0002_eligibility_roster.sql until it shared that number with another; it
-- depends on no other migration, and a database that applied it under the old name
-- runs it again as a no-op (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS enrollment (
    payer_id              text NOT NULL,
    member_id             text NOT NULL,
    plan                  text NOT NULL,
    group_number          text,
    effective_date        date NOT NULL,
    termination_date      date,
    subscriber_birth_date date,
    dependents            date[] NOT NULL DEFAULT '{}',  -- birth dates of dependents on the policy
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payer_id, member_id)
);

CREATE TABLE IF NOT EXISTS eligibility_unknown (
    payer_id        text NOT NULL,
    member_id       text NOT NULL,
    person          text NOT NULL,   -- '' the subscriber, else the dependent's birth date
    first_asked_at  timestamptz NOT NULL DEFAULT now(),
    asked           int NOT NULL DEFAULT 1,
    PRIMARY KEY (payer_id, member_id, person)
);
