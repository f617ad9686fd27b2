"""The contracts' SQL (tables ``contract_tenants``, ``contract_rates``, ``fee_schedules``
and the ``underpayments`` report): imports, the per-tenant threshold, the look-ups the
cache makes, and the report by payer and month. contract_file.py parses the files."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from runtime.db import migrate
from services.remittance.contract_file import ContractFileError, ContractRow
from services.remittance.domain.contracts import Book, Rate, Schedule

_RATE_COLUMNS = (
    "procedure_code, modifier, place_of_service, effective_from, effective_to,"
    " allowed_cents, fee_schedule, percent"
)


@dataclass(frozen=True, slots=True)
class Imported:
    read: int
    added: int
    removed: int
    unchanged: int


async def ensure_schema(pool: asyncpg.Pool) -> None:
    """The remittance migrations, as the service applies them when it starts (an import
    may run before the remittance service ever has)."""
    from services.remittance.app import MIGRATIONS

    await migrate(pool, "remittance", MIGRATIONS)


async def _touch(conn: asyncpg.Connection, tenant: str) -> None:
    """A new version for the tenant: every cache of its contracts reloads."""
    await conn.execute(
        "INSERT INTO contract_tenants(tenant, version) VALUES ($1, $2)"
        " ON CONFLICT (tenant) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
        tenant,
        uuid.uuid4(),
    )


async def import_contracts(
    conn: asyncpg.Connection, tenant: str, rows: Sequence[ContractRow]
) -> Imported:
    """The tenant's rates for each payer the file names become the file's (rates the
    file lacks for those payers are removed; other payers' are kept). One transaction;
    the same file again changes nothing. Raises ContractFileError naming the rows whose
    fee schedule the tenant has not loaded (nothing written)."""
    async with conn.transaction():  # conn: the remittance schema's (its search_path)
        loaded = {
            r[0]
            for r in await conn.fetch(
                "SELECT DISTINCT schedule FROM fee_schedules WHERE tenant = $1", tenant
            )
        }
        missing = [
            f"row {r.row}, column fee_schedule: {r.rate.schedule} is not loaded for this tenant"
            " (rcm contracts fees FILE --schedule NAME)"
            for r in rows
            if r.rate.schedule is not None and r.rate.schedule not in loaded
        ]
        if missing:
            raise ContractFileError(missing)
        payers = sorted({r.payer_id for r in rows})
        before = {
            (r["payer_id"], Rate(*list(r)[1:]))
            for r in await conn.fetch(
                f"SELECT payer_id, {_RATE_COLUMNS} FROM contract_rates"
                " WHERE tenant = $1 AND payer_id = ANY($2::text[])",
                tenant,
                payers,
            )
        }
        after = {(r.payer_id, r.rate) for r in rows}
        gone, new = before - after, after - before
        if gone:
            await conn.execute(
                "DELETE FROM contract_rates c USING unnest($2::text[], $3::text[], $4::text[],"
                " $5::text[], $6::date[]) AS g(p, code, m, pos, start) WHERE c.tenant = $1"
                " AND (c.payer_id, c.procedure_code, c.modifier, c.place_of_service,"
                " c.effective_from) = (g.p, g.code, g.m, g.pos, g.start)",
                tenant,
                *_key_columns(gone),
            )
        if new:
            await conn.execute(
                f"INSERT INTO contract_rates(tenant, payer_id, {_RATE_COLUMNS})"
                " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],"
                " $6::date[], $7::date[], $8::bigint[], $9::text[], $10::numeric[])",
                tenant,
                [p for p, _ in new],
                *[[getattr(r, f) for _, r in new] for f in Rate._fields],
            )
        if gone or new:
            await _touch(conn, tenant)
    return Imported(len(rows), len(new), len(gone), len(after & before))


def _key_columns(pairs: set[tuple[str, Rate]]) -> list[list[Any]]:
    return [
        [p for p, _ in pairs],
        [r.procedure for _, r in pairs],
        [r.modifier for _, r in pairs],
        [r.place_of_service for _, r in pairs],
        [r.effective_from for _, r in pairs],
    ]


async def import_fee_schedule(
    conn: asyncpg.Connection, tenant: str, schedule: str, fees: Sequence[tuple[str, str, int]]
) -> Imported:
    """The tenant's schedule becomes the file (codes it lacks are removed). One
    transaction; the same file again changes nothing."""
    async with conn.transaction():
        before = {
            (r[0], r[1], r[2])
            for r in await conn.fetch(
                "SELECT procedure_code, modifier, allowed_cents FROM fee_schedules"
                " WHERE tenant = $1 AND schedule = $2",
                tenant,
                schedule,
            )
        }
        after = set(fees)
        gone, new = before - after, after - before
        if gone or new:
            await conn.execute(
                "DELETE FROM fee_schedules WHERE tenant = $1 AND schedule = $2"
                " AND (procedure_code, modifier) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
                tenant,
                schedule,
                [f[0] for f in gone],
                [f[1] for f in gone],
            )
            await conn.execute(
                "INSERT INTO fee_schedules(tenant, schedule, procedure_code, modifier,"
                " allowed_cents) SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[])"
                " ON CONFLICT (tenant, schedule, procedure_code, modifier)"
                " DO UPDATE SET allowed_cents = EXCLUDED.allowed_cents",
                tenant,
                schedule,
                *[[f[k] for f in new] for k in range(3)],
            )
            await _touch(conn, tenant)
    changed = len({f[:2] for f in gone} & {f[:2] for f in new})
    return Imported(len(fees), len(new) - changed, len(gone) - changed, len(after & before))


async def set_threshold(conn: asyncpg.Connection, tenant: str, cents: int | None) -> None:
    """A shortfall above ``cents`` is an underpayment for the tenant (None: the service's
    default, RCM_REMITTANCE_UNDERPAYMENT_THRESHOLD_CENTS)."""
    await conn.execute(
        "INSERT INTO contract_tenants(tenant, version, underpayment_threshold_cents)"
        " VALUES ($1, $2, $3) ON CONFLICT (tenant) DO UPDATE SET version = EXCLUDED.version,"
        " underpayment_threshold_cents = EXCLUDED.underpayment_threshold_cents,"
        " updated_at = now()",
        tenant,
        uuid.uuid4(),
        cents,
    )


async def tenant_version(
    conn: asyncpg.Connection, tenant: str
) -> tuple[uuid.UUID, int | None] | None:
    """The tenant's contracts' version and its threshold (None: none imported)."""
    row = await conn.fetchrow(
        "SELECT version, underpayment_threshold_cents FROM contract_tenants WHERE tenant = $1",
        tenant,
    )
    return None if row is None else (row[0], row[1])


async def load_book(conn: asyncpg.Connection, tenant: str, payer_id: str) -> Book:
    """The tenant's contract with the payer, with the fee schedules its rates name."""
    rates = [
        Rate(*r)
        for r in await conn.fetch(
            f"SELECT {_RATE_COLUMNS} FROM contract_rates WHERE tenant = $1 AND payer_id = $2",
            tenant,
            payer_id,
        )
    ]
    names = sorted({r.schedule for r in rates if r.schedule is not None})
    schedules: dict[str, dict[tuple[str, str], int]] = {n: {} for n in names}
    if names:
        for r in await conn.fetch(
            "SELECT schedule, procedure_code, modifier, allowed_cents FROM fee_schedules"
            " WHERE tenant = $1 AND schedule = ANY($2::text[])",
            tenant,
            names,
        ):
            schedules[r[0]][(r[1], r[2])] = r[3]
    frozen: dict[str, Schedule] = dict(schedules)
    return Book.of(rates, frozen)


async def report(
    conn: asyncpg.Connection, tenant: str, since: dt.date | None = None
) -> list[dict[str, Any]]:
    """Underpaid lines by payer and month of service: lines, expected, allowed, paid and
    shortfall cents (reversed postings left out)."""
    rows = await conn.fetch(
        "SELECT u.payer_id, to_char(date_trunc('month', u.service_date), 'YYYY-MM') AS month,"
        " count(*) AS lines, sum(u.contracted_cents)::bigint AS expected_cents,"
        " sum(u.allowed_cents)::bigint AS allowed_cents,"
        " coalesce(sum(u.paid_cents), 0)::bigint AS paid_cents,"
        " sum(u.shortfall_cents)::bigint AS shortfall_cents"
        " FROM underpayments u JOIN claim_postings p ON p.id = u.posting_id"
        " WHERE u.tenant = $1 AND p.reversed_by_posting_id IS NULL"
        " AND ($2::date IS NULL OR u.service_date >= $2)"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        tenant,
        since,
    )
    return [dict(r) for r in rows]
