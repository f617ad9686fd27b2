"""What the claim page's money actions need: the claim's open line denials (remittance's
``line_denial_v1``, the lines an appeal disputes), its appeal cases (claims'
``appeal_v1``) and a fresh command id for a ledger transfer (idempotent at statements)."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from services.gateway import appeals
from services.gateway.config import GatewaySettings
from services.gateway.core import Gateway


async def open_denials(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str
) -> list[dict[str, Any]]:
    r = g.remittance_schema
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{r}.line_denial_v1"):
        return []
    rows = await conn.fetch(
        "SELECT denial_id, line_number, procedure, cas_group, reason, reason_text,"
        f" amount_cents, category, action FROM {r}.line_denial_v1"
        " WHERE tenant = $1 AND claim_id = $2 AND open ORDER BY line_number, denial_id",
        tenant,
        claim_id,
    )
    return [dict(row) for row in rows]


async def claim_work(gw: Gateway, tenant: str, claim_id: str) -> dict[str, Any]:
    """The page's context for the appeal and transfer forms."""

    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await open_denials(conn, gw.g, tenant, claim_id)

    denials = await gw.guarded(run)
    cases = await gw.guarded(lambda: appeals.cases(gw, tenant, claim_id))
    return {
        "denials": denials,
        "appeals": cases,
        "command_id": "app-" + secrets.token_hex(8),
    }
