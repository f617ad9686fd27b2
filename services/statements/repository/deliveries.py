"""The delivery queue's SQL (services/statements/delivery.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

_DUE = (
    "SELECT d.statement_id, d.tenant, d.attempts, s.body, a.email, a.paperless"
    " FROM deliveries d JOIN statements s USING (statement_id)"
    " JOIN accounts a ON a.tenant = s.tenant AND a.guarantor_id = s.guarantor_id"
    " WHERE d.status = 'queued' AND d.next_try_at <= now()"
    " ORDER BY d.next_try_at, d.statement_id LIMIT $1 FOR UPDATE OF d SKIP LOCKED"
)


async def due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Queued statements whose turn has come, locked; another instance skips them."""
    return list(await conn.fetch(_DUE, limit))


async def emailed(conn: asyncpg.Connection, statement_id: str, html: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET channel = 'email', status = 'sent', attempts = attempts + 1,"
        " html = $2, detail = NULL, sent_at = now() WHERE statement_id = $1",
        statement_id,
        html,
    )


async def email_failed(
    conn: asyncpg.Connection, statement_id: str, reason: str, retry_in_s: float | None
) -> None:
    """Tried again in ``retry_in_s``; with None, the statement goes on paper instead."""
    if retry_in_s is None:
        await conn.execute(
            "UPDATE deliveries SET channel = 'print', attempts = attempts + 1,"
            " detail = 'email failed (' || $2 || '), printed instead' WHERE statement_id = $1",
            statement_id,
            reason,
        )
        return
    await conn.execute(
        "UPDATE deliveries SET channel = 'email', attempts = attempts + 1, detail = $2,"
        " next_try_at = now() + make_interval(secs => $3) WHERE statement_id = $1",
        statement_id,
        reason,
        retry_in_s,
    )


async def batch(conn: asyncpg.Connection, statement_ids: Sequence[str], name: str) -> None:
    """Names the print batch these statements go in (written after the commit)."""
    await conn.execute(
        "UPDATE deliveries SET channel = 'print', status = 'batched', batch = $2"
        " WHERE statement_id = ANY($1::text[])",
        list(statement_ids),
        name,
    )


async def batched(conn: asyncpg.Connection) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Print batches named but not yet written: (tenant, batch) -> their statements."""
    rows = await conn.fetch(
        "SELECT d.tenant, d.batch, d.statement_id, s.body FROM deliveries d"
        " JOIN statements s USING (statement_id) WHERE d.status = 'batched'"
        " ORDER BY d.tenant, d.batch, d.statement_id FOR UPDATE OF d SKIP LOCKED"
    )
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["tenant"], r["batch"]), []).append(dict(r))
    return out


async def printed(conn: asyncpg.Connection, batch_name: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = now()"
        " WHERE batch = $1 AND status = 'batched'",
        batch_name,
    )
