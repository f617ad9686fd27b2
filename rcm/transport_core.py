"""The demo's CAQH CORE figures and files, read through the views (docs/views.md):
eligibility's ``exchange_v1`` (every 270 sent and 271 received) and claims'
``claim_timeline_v1`` (every 276 asked: its ``rcm.claims.status-277`` note).

``core_requests`` goes into summary.json's ``transport`` block (made here if the
SFTP side has not made it yet); each exchange is written as ``<trace>.270`` and
``<trace>.271``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg


async def core_requests(conn: asyncpg.Connection, claim_ids: list[str]) -> int:
    """CORE requests the pipeline sent for these claims: 270s and 276s."""
    total = 0
    if await conn.fetchval("SELECT to_regclass('eligibility.exchange_v1')"):
        total += await conn.fetchval(
            "SELECT count(*) FROM eligibility.exchange_v1 WHERE claim_id = ANY($1::text[])",
            claim_ids,
        )
    total += await conn.fetchval(
        "SELECT count(*) FROM claims.claim_timeline_v1"
        " WHERE claim_id = ANY($1::text[]) AND event_type = 'rcm.claims.status-277'",
        claim_ids,
    )
    return int(total)


async def write_exchanges(conn: asyncpg.Connection, claim_ids: list[str], x12_dir: Path) -> int:
    """The 270s and 271s exchanged for these claims, one file each; returns how many."""
    if not await conn.fetchval("SELECT to_regclass('eligibility.exchange_v1')"):
        return 0
    rows = await conn.fetch(
        "SELECT exchange_id, trace, request_x12, response_x12 FROM eligibility.exchange_v1"
        " WHERE claim_id = ANY($1::text[]) ORDER BY exchange_id",
        claim_ids,
    )
    written = 0
    for r in rows:
        name = f"{r['trace'] or r['exchange_id']}"
        (x12_dir / f"{name}.270").write_text(r["request_x12"])
        written += 1
        if r["response_x12"]:
            (x12_dir / f"{name}.271").write_text(r["response_x12"])
            written += 1
    return written


def with_core(result: dict[str, Any], requests: int) -> dict[str, Any]:
    """summary.json's ``transport`` block with ``core_requests`` (the block kept if there)."""
    transport = result.get("transport")
    if not isinstance(transport, dict):
        transport = result["transport"] = {}
    transport["core_requests"] = requests
    return result
