"""The statements service's SQL on claims and the ledger: posting a payer's decision,
ledger rows, balances, and holds for a later payer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import asyncpg

from runtime.db import columns
from services.statements import domain
from services.statements.domain import Entry

# --- posting a payer's decision -----------------------------------------------------

#: Read with a claim_charges row ``c`` under the account's lock: the claim's ledger rows
#: (kinds, amounts, in order) and the account's money on no claim (unapplied).
_LEDGER_COLUMNS = (
    "ARRAY(SELECT kind FROM ledger l WHERE l.claim_id = c.claim_id ORDER BY id) AS kinds,"
    " ARRAY(SELECT amount_cents FROM ledger l WHERE l.claim_id = c.claim_id ORDER BY id)"
    " AS amounts, (SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger u"
    " WHERE u.tenant = c.tenant AND u.guarantor_id = c.guarantor_id AND u.claim_id IS NULL)"
    " AS unapplied"
)


def _posting_rows(where: str) -> str:
    """Claim rows as posting reads them, locked, with their ledgers and their accounts'
    unapplied money; ``where``: ``= $1`` (one claim) or ``= ANY($1::text[])`` (a run)."""
    return (
        "SELECT claim_id, date_of_service, coverages, payers, insurance_final,"
        f" {_LEDGER_COLUMNS} FROM claim_charges c WHERE claim_id {where} FOR UPDATE"
    )


_POSTING_ROW = _posting_rows("= $1")
_POSTING_ROWS = _posting_rows("= ANY($1::text[])")


async def posting_row(conn: asyncpg.Connection, claim_id: str) -> asyncpg.Record:
    """One claim as posting reads it (see :func:`posting_rows`)."""
    return await conn.fetchrow(_POSTING_ROW, claim_id)


async def posting_rows(
    conn: asyncpg.Connection, claim_ids: Sequence[str]
) -> dict[str, asyncpg.Record]:
    """The claims' rows, locked, with their ledgers (``kinds``, ``amounts``) and their
    accounts' money on no claim (``unapplied``), by claim."""
    return {r["claim_id"]: r for r in await conn.fetch(_POSTING_ROWS, claim_ids)}


class ClaimPosted(NamedTuple):
    """What a payer's decision changes on its claim's row, in statement parameter order."""

    claim_id: str
    payer_id: str
    insurance_final: bool
    hold_until: dt.date | None
    hold_reason: str | None
    patient_responsibility_cents: int
    line_detail: str | None


async def update_posted_claims(conn: asyncpg.Connection, claims: Iterable[ClaimPosted]) -> None:
    await conn.execute(
        "UPDATE claim_charges c SET payers = array_append(c.payers, u.p), insurance_final = u.f,"
        " hold_until = u.h, hold_reason = u.r, patient_responsibility_cents = u.pr,"
        " line_detail = coalesce(u.d::jsonb, c.line_detail) FROM unnest($1::text[], $2::text[],"
        " $3::boolean[], $4::date[], $5::text[], $6::bigint[], $7::text[])"
        " AS u(id, p, f, h, r, pr, d) WHERE c.claim_id = u.id",
        *columns(claims),
    )


async def mark_self_pay(
    conn: asyncpg.Connection, claim_id: str, lines: str, charge_cents: int, patient_cents: int
) -> None:
    await conn.execute(
        "UPDATE claim_charges SET self_pay = true, insurance_final = true, lines = $2::jsonb,"
        " charge_cents = $3, patient_responsibility_cents = $4 WHERE claim_id = $1",
        claim_id,
        lines,
        charge_cents,
        patient_cents,
    )


async def close_claim(conn: asyncpg.Connection, claim_id: str, at: dt.datetime) -> None:
    await conn.execute("UPDATE claim_charges SET closed_at = $2 WHERE claim_id = $1", claim_id, at)


# --- the ledger ---------------------------------------------------------------------

#: One ledger row to write: tenant, guarantor, claim (None: the account), the entry, the
#: event that caused it, and the payer or the patient's payment it came from.
LedgerRow = tuple[str, str, str | None, Entry, str, str | None, str | None]


async def insert_ledger_rows(conn: asyncpg.Connection, rows: Sequence[LedgerRow]) -> None:
    """Writes ledger rows, in order, in one statement (none: no statement)."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO ledger(tenant, guarantor_id, claim_id, kind, reason, amount_cents,"
        " source_event, payer_id, payment_id) SELECT t, g, c, k, r, a, s, p, y"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::bigint[], $7::text[], $8::text[], $9::text[])"
        " WITH ORDINALITY AS e(t, g, c, k, r, a, s, p, y, n) ORDER BY n",
        *columns(
            (t, g, c, e.kind, e.reason, e.amount_cents, src, payer, payment)
            for t, g, c, e, src, payer, payment in rows
        ),
    )


class ClaimLedger:
    """One claim's ledger rows (kind, cents), read once by a handler that holds the
    account's lock. Only holders of that lock post to the claim, and they post through
    ``billing.insert_entries(..., ledger=)``, which adds the rows here: the totals after
    a posting need no second read."""

    def __init__(self, claim_id: str, rows: list[tuple[str, int]]) -> None:
        self.claim_id = claim_id
        self.rows = rows

    @classmethod
    def of(cls, claim_id: str, row: Mapping[str, Any]) -> ClaimLedger:
        """From a row of :func:`posting_rows` (``kinds``, ``amounts``)."""
        return cls(claim_id, list(zip(row["kinds"], row["amounts"], strict=True)))

    @classmethod
    async def read(cls, conn: asyncpg.Connection, claim_id: str) -> ClaimLedger:
        rows = await conn.fetch(
            "SELECT kind, amount_cents FROM ledger WHERE claim_id = $1 ORDER BY id", claim_id
        )
        return cls(claim_id, [(r["kind"], r["amount_cents"]) for r in rows])

    def totals(self) -> domain.Totals:
        return domain.totals(self.rows)


async def unapplied_cents(conn: asyncpg.Connection, tenant: str, guarantor: str) -> int:
    """The account's money on no claim: negative is a credit."""
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger"
            " WHERE tenant = $1 AND guarantor_id = $2 AND claim_id IS NULL",
            tenant,
            guarantor,
        )
    )


async def open_claims(
    conn: asyncpg.Connection, tenant: str, guarantor: str
) -> list[asyncpg.Record]:
    """Claims insurance is done with and the patient still owes on, oldest first."""
    return list(
        await conn.fetch(
            "SELECT c.claim_id, c.date_of_service, c.first_billed_on, b.balance, c.placed_on"
            " FROM claim_charges c JOIN (SELECT claim_id, sum(amount_cents)::bigint AS balance"
            "   FROM ledger WHERE tenant = $1 AND guarantor_id = $2 AND claim_id IS NOT NULL"
            "   GROUP BY claim_id) b USING (claim_id)"
            " WHERE c.tenant = $1 AND c.guarantor_id = $2 AND c.insurance_final AND b.balance > 0"
            " ORDER BY c.first_billed_on NULLS LAST, c.date_of_service, c.claim_id",
            tenant,
            guarantor,
        )
    )


async def credit_used(conn: asyncpg.Connection, tenant: str, guarantor: str) -> None:
    """The account's open refund flags: its credit went to a claim instead."""
    await conn.execute(
        "UPDATE refund_flags SET status = 'applied' WHERE tenant = $1 AND guarantor_id = $2"
        " AND status = 'open'",
        tenant,
        guarantor,
    )


# --- holds for a later payer ------------------------------------------------------


async def claim_expired_holds(
    conn: asyncpg.Connection, today: dt.date, limit: int
) -> list[asyncpg.Record]:
    """Claims whose wait for a later payer is over (claim_id, tenant, guarantor_id, their
    coverages and date of service), claimed with FOR UPDATE SKIP LOCKED."""
    return list(
        await conn.fetch(
            "SELECT claim_id, tenant, guarantor_id, coverages, date_of_service FROM claim_charges"
            " WHERE NOT insurance_final AND hold_until <= $1 ORDER BY hold_until LIMIT $2"
            " FOR UPDATE SKIP LOCKED",
            today,
            limit,
        )
    )


async def release_hold(conn: asyncpg.Connection, claim_id: str) -> None:
    await conn.execute(
        "UPDATE claim_charges SET insurance_final = true, hold_until = NULL,"
        " hold_reason = 'no later payer within the wait' WHERE claim_id = $1",
        claim_id,
    )


async def park_later_payer(
    conn: asyncpg.Connection, claim_id: str, rank: int, event_json: str, event_id: str
) -> None:
    """A later payer's decision that came before an earlier payer's was posted."""
    await conn.execute(
        "INSERT INTO pending_later_payers(claim_id, rank, event, event_id)"
        " VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING",
        claim_id,
        rank,
        event_json,
        event_id,
    )


async def take_later_payers(
    conn: asyncpg.Connection, claim_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(event id, event JSON) of the decisions that waited for an earlier payer of these
    claims, taken off the table, in payer order per claim (one statement a run)."""
    rows = await conn.fetch(
        "DELETE FROM pending_later_payers WHERE claim_id = ANY($1::text[])"
        " RETURNING claim_id, rank, at, event_id, event::text",
        list(claim_ids),
    )
    order = sorted(rows, key=lambda r: (r["claim_id"], r["rank"], r["at"]))
    return [(r["event_id"], r["event"]) for r in order]
