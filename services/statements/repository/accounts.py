"""The statements service's SQL on accounts: their locks, guarantors and visits, events
that came before their encounter, patient payments, and the cycle's due accounts.

Every handler that touches an account's money first takes a transaction-scoped advisory
lock on the account (``statements:{tenant}:{guarantor}``), so payments, adjudications and
the cycle for one guarantor never interleave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import asyncpg
import orjson

from runtime.db import columns
from schemas.common import ServiceLine
from schemas.events import ClaimLine

# --- account locks ------------------------------------------------------------------


async def lock_accounts(conn: asyncpg.Connection, accounts: Iterable[tuple[str, str]]) -> None:
    """Every account's lock in one statement, in one order (no two batches deadlock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
        " FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) a",
        [f"statements:{tenant}:{guarantor}" for tenant, guarantor in accounts],
    )


async def lock_account(conn: asyncpg.Connection, tenant: str, guarantor: str) -> None:
    await lock_accounts(conn, [(tenant, guarantor)])


async def try_lock_account(conn: asyncpg.Connection, tenant: str, guarantor: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
            f"statements:{tenant}:{guarantor}",
        )
    )


async def lock_account_of(conn: asyncpg.Connection, claim_id: str) -> tuple[str, str] | None:
    """(tenant, guarantor) of a claim whose encounter is known here, with the account's
    lock taken in the same statement; None (and no lock) for a claim not known here."""
    row = await conn.fetchrow(
        "SELECT tenant, guarantor_id, pg_advisory_xact_lock(hashtextextended("
        "'statements:' || tenant || ':' || guarantor_id, 0)) FROM claim_charges"
        " WHERE claim_id = $1",
        claim_id,
    )
    return (row["tenant"], row["guarantor_id"]) if row is not None else None


async def account_of(conn: asyncpg.Connection, claim_id: str) -> tuple[str, str] | None:
    """(tenant, guarantor) of a claim whose encounter is known here, else None."""
    row = await conn.fetchrow(
        "SELECT tenant, guarantor_id FROM claim_charges WHERE claim_id = $1", claim_id
    )
    return (row["tenant"], row["guarantor_id"]) if row is not None else None


async def known_account(
    conn: asyncpg.Connection, claim_id: str, *, lock: bool = False
) -> tuple[str, str]:
    head = await (lock_account_of if lock else account_of)(conn, claim_id)
    if head is None:
        raise LookupError(f"claim {claim_id} has no charges here")
    return head


async def accounts_of(
    conn: asyncpg.Connection, claim_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """claim -> (tenant, guarantor) for the claims whose encounter is known here."""
    return {
        r["claim_id"]: (r["tenant"], r["guarantor_id"])
        for r in await conn.fetch(
            "SELECT claim_id, tenant, guarantor_id FROM claim_charges"
            " WHERE claim_id = ANY($1::text[])",
            claim_ids,
        )
    }


# --- accounts and visits ------------------------------------------------------------


def lines_json(lines: Iterable[ServiceLine | ClaimLine]) -> str:
    """A visit's lines as the account keeps them (code, modifiers, units, charge)."""
    return orjson.dumps(
        [
            {
                "code": ln.procedure_code,
                "modifiers": ln.modifiers,
                "units": ln.units,
                "charge_cents": ln.charge_cents,
            }
            for ln in lines
        ]
    ).decode()


async def upsert_accounts(
    conn: asyncpg.Connection,
    accounts: Iterable[tuple[str, str, str, str, str, str | None, bool, dt.date]],
) -> None:
    """(tenant, guarantor, first name, last name, address JSON, email, paperless, birth
    date) each."""
    await conn.execute(
        "INSERT INTO accounts(tenant, guarantor_id, first_name, last_name, address, email,"
        " paperless, birth_date) SELECT t, g, f, l, a::jsonb, m, p, b FROM unnest($1::text[],"
        " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::date[])"
        " AS e(t, g, f, l, a, m, p, b)"
        " ON CONFLICT (tenant, guarantor_id) DO UPDATE SET first_name = EXCLUDED.first_name,"
        " last_name = EXCLUDED.last_name, address = EXCLUDED.address, email = EXCLUDED.email,"
        " paperless = EXCLUDED.paperless, birth_date = EXCLUDED.birth_date",
        *columns(accounts),
    )


class Charge(NamedTuple):
    """A visit's row of ``claim_charges``, as statement parameters in column order."""

    claim_id: str
    tenant: str
    guarantor_id: str
    patient_id: str
    patient_name: str
    date_of_service: dt.date
    lines: str
    charge_cents: int
    coverages: str
    billing_provider: str


async def insert_charges(conn: asyncpg.Connection, charges: Sequence[Charge]) -> None:
    """New visits, in order; a visit known already is left as it is."""
    await conn.execute(
        "INSERT INTO claim_charges(claim_id, tenant, guarantor_id, patient_id, patient_name,"
        " date_of_service, lines, charge_cents, coverages, billing_provider)"
        " SELECT c, t, g, p, n, d, l::jsonb, a, v::jsonb, b::jsonb FROM unnest($1::text[],"
        " $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::text[], $8::bigint[],"
        " $9::text[], $10::text[]) WITH ORDINALITY AS e(c, t, g, p, n, d, l, a, v, b, i)"
        " ORDER BY i"
        " ON CONFLICT (claim_id) DO NOTHING",
        *columns(charges),
    )


async def claim_known(conn: asyncpg.Connection, claim_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM claim_charges WHERE claim_id = $1", claim_id))


# --- events that came before their encounter ----------------------------------------


async def park_adjudication(
    conn: asyncpg.Connection, claim_id: str, event_json: str, event_id: str
) -> None:
    """Several adjudications may wait (a reversal and its correction): keep the latest."""
    await conn.execute(
        "INSERT INTO pending_adjudications(claim_id, event, event_id)"
        " VALUES ($1, $2::jsonb, $3)"
        " ON CONFLICT (claim_id) DO UPDATE SET event = EXCLUDED.event",
        claim_id,
        event_json,
        event_id,
    )


async def park_self_pay(
    conn: asyncpg.Connection, claim_id: str, event_json: str, event_id: str
) -> None:
    await conn.execute(
        "INSERT INTO pending_self_pay(claim_id, event, event_id) VALUES ($1, $2::jsonb, $3)"
        " ON CONFLICT (claim_id) DO UPDATE SET event = EXCLUDED.event",
        claim_id,
        event_json,
        event_id,
    )


async def take_parked(
    conn: asyncpg.Connection, claim_ids: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The adjudications and self-pay codings that waited for these claims (claim ->
    event JSON each), taken off their tables."""
    adjudicated = dict(
        await conn.fetch(
            "DELETE FROM pending_adjudications WHERE claim_id = ANY($1::text[])"
            " RETURNING claim_id, event",
            claim_ids,
        )
    )
    coded = dict(
        await conn.fetch(
            "DELETE FROM pending_self_pay WHERE claim_id = ANY($1::text[])"
            " RETURNING claim_id, event",
            claim_ids,
        )
    )
    return adjudicated, coded


# --- patient payments ---------------------------------------------------------------


async def payment_seen(conn: asyncpg.Connection, tenant: str, payment_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM patient_payments WHERE tenant = $1 AND payment_id = $2",
            tenant,
            payment_id,
        )
    )


async def waiting_for_insurance(conn: asyncpg.Connection, tenant: str, guarantor: str) -> bool:
    """Has the account a claim insurance is not done with?"""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM claim_charges WHERE tenant = $1 AND guarantor_id = $2"
            " AND NOT insurance_final LIMIT 1",
            tenant,
            guarantor,
        )
    )


async def flag_refund(
    conn: asyncpg.Connection, tenant: str, guarantor: str, payment_id: str, cents: int
) -> None:
    await conn.execute(
        "INSERT INTO refund_flags(tenant, guarantor_id, payment_id, amount_cents)"
        " VALUES ($1, $2, $3, $4)",
        tenant,
        guarantor,
        payment_id,
        cents,
    )


class PaymentRow(NamedTuple):
    """A row of ``patient_payments``, as statement parameters in column order."""

    tenant: str
    payment_id: str
    guarantor_id: str
    amount_cents: int
    method: str
    received_at: dt.datetime
    claim_id: str | None
    applied_cents: int
    unapplied_cents: int
    event_id: str


async def insert_payment(conn: asyncpg.Connection, p: PaymentRow) -> None:
    await conn.execute(
        "INSERT INTO patient_payments(tenant, payment_id, guarantor_id, amount_cents, method,"
        " received_at, claim_id, applied_cents, unapplied_cents, event_id)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        *p,
    )


async def account_paid_up(conn: asyncpg.Connection, tenant: str, guarantor: str) -> None:
    """Nothing owed: no next statement, no collections flag."""
    await conn.execute(
        "UPDATE accounts SET next_statement_on = NULL, collections_flagged_on = NULL"
        " WHERE tenant = $1 AND guarantor_id = $2",
        tenant,
        guarantor,
    )


# --- the cycle ----------------------------------------------------------------------


async def claim_accounts_due(
    conn: asyncpg.Connection, today: dt.date, limit: int
) -> list[asyncpg.Record]:
    """Accounts whose cycle date has come (tenant, guarantor_id), claimed with FOR UPDATE
    SKIP LOCKED."""
    return list(
        await conn.fetch(
            "SELECT tenant, guarantor_id FROM accounts WHERE next_statement_on <= $1"
            " ORDER BY next_statement_on LIMIT $2 FOR UPDATE SKIP LOCKED",
            today,
            limit,
        )
    )
