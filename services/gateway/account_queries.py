"""What a patient account page shows beside its ledger, read from the statements room's
views (docs/views.md): the credit it holds, refund flags, commands on it and what became
of them, and which statements have their PDF (rendered by statements)."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.gateway.config import GatewaySettings


async def _exists(conn: asyncpg.Connection, view: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view))


async def extras(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, guarantor_id: str
) -> dict[str, Any]:
    s = g.statements_schema
    out: dict[str, Any] = {"credit_cents": 0, "flags": [], "requests": [], "pdfs": set()}
    if await _exists(conn, f"{s}.credit_balance_v1"):
        credit = await conn.fetchval(
            f"SELECT credit_cents FROM {s}.credit_balance_v1"
            " WHERE tenant = $1 AND guarantor_id = $2",
            tenant,
            guarantor_id,
        )
        out["credit_cents"] = int(credit or 0)
    if await _exists(conn, f"{s}.refund_flag_v1"):
        out["flags"] = [
            dict(r)
            for r in await conn.fetch(
                f"SELECT flag_id, amount_cents, status, flagged_at FROM {s}.refund_flag_v1"
                " WHERE tenant = $1 AND guarantor_id = $2 ORDER BY flagged_at DESC LIMIT 20",
                tenant,
                guarantor_id,
            )
        ]
    if await _exists(conn, f"{s}.ledger_request_v1"):
        out["requests"] = [
            dict(r)
            for r in await conn.fetch(
                "SELECT request_id, claim_id, action, amount_cents, reason, requested_by, role,"
                " requested_at, status, decided_by, detail"
                f" FROM {s}.ledger_request_v1 WHERE tenant = $1 AND guarantor_id = $2"
                " ORDER BY requested_at DESC LIMIT 20",
                tenant,
                guarantor_id,
            )
        ]
    if await _exists(conn, f"{s}.statement_pdf_v1"):
        out["pdfs"] = {
            r["statement_id"]
            for r in await conn.fetch(
                f"SELECT statement_id FROM {s}.statement_pdf_v1"
                " WHERE tenant = $1 AND guarantor_id = $2",
                tenant,
                guarantor_id,
            )
        }
    return out


async def statement_pdf(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, guarantor_id: str, sid: str
) -> bytes | None:
    view = f"{g.statements_schema}.statement_pdf_v1"
    if not await _exists(conn, view):
        return None
    pdf = await conn.fetchval(
        f"SELECT pdf FROM {view} WHERE tenant = $1 AND guarantor_id = $2 AND statement_id = $3",
        tenant,
        guarantor_id,
        sid,
    )
    return bytes(pdf) if pdf is not None else None
