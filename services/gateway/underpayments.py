"""Underpaid lines, from remittance's ``underpayment_v1`` view: the ``underpayments`` work
queue and the report by payer and month. A gateway deployed beside a remittance without
the view answers an empty queue and report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from services.gateway.config import GatewaySettings


async def _exists(conn: asyncpg.Connection, qualified: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified))


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for k, v in row.items()}


async def queue(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, limit: int
) -> list[dict[str, Any]]:
    """Open underpaid lines, largest shortfall first: expected, allowed and paid."""
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.underpayment_v1"):
        return []
    rows = await conn.fetch(
        "SELECT u.underpayment_id AS id, u.claim_id, u.payer_id, u.line_number, u.procedure,"
        " u.modifiers, u.place_of_service, u.units, u.service_date, u.expected_cents,"
        " u.allowed_cents, u.paid_cents, u.shortfall_cents, u.basis, u.flagged_at"
        f" FROM {r}.underpayment_v1 u JOIN {r}.posting_v1 p USING (posting_id)"
        " WHERE u.tenant = $1 AND u.resolved_at IS NULL AND p.reversed_by_posting_id IS NULL"
        " ORDER BY u.shortfall_cents DESC, u.underpayment_id LIMIT $2",
        tenant,
        limit,
    )
    return [{"kind": "underpaid_line", **_plain(x)} for x in rows]


async def report(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, since: dt.date | None
) -> list[dict[str, Any]]:
    """Underpaid lines by payer and month of service (reversed postings left out)."""
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.underpayment_v1"):
        return []
    rows = await conn.fetch(
        "SELECT u.payer_id, to_char(date_trunc('month', u.service_date), 'YYYY-MM') AS month,"
        " count(*) AS lines, sum(u.expected_cents)::bigint AS expected_cents,"
        " sum(u.allowed_cents)::bigint AS allowed_cents,"
        " coalesce(sum(u.paid_cents), 0)::bigint AS paid_cents,"
        " sum(u.shortfall_cents)::bigint AS shortfall_cents"
        f" FROM {r}.underpayment_v1 u JOIN {r}.posting_v1 p USING (posting_id)"
        " WHERE u.tenant = $1 AND p.reversed_by_posting_id IS NULL"
        " AND ($2::date IS NULL OR u.service_date >= $2)"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        tenant,
        since,
    )
    return [dict(x) for x in rows]
