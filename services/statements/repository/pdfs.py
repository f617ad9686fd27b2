"""The statements' PDFs (pdfs.py): which still wait for theirs, and keeping them."""

from __future__ import annotations

import asyncpg


async def due(
    conn: asyncpg.Connection, limit: int, *, waited_s: float | None = None
) -> list[asyncpg.Record]:
    """Statements without a PDF yet, newest first, claimed (FOR UPDATE SKIP LOCKED);
    with ``waited_s``, only those issued at least that long ago, oldest first."""
    if waited_s is None:
        return list(
            await conn.fetch(
                "SELECT statement_id, tenant, body FROM statements WHERE pdf_due"
                " ORDER BY created_at DESC LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
        )
    return list(
        await conn.fetch(
            "SELECT statement_id, tenant, body FROM statements WHERE pdf_due"
            " AND created_at <= now() - make_interval(secs => $2)"
            " ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
            waited_s,
        )
    )


async def keep(conn: asyncpg.Connection, done: list[tuple[str, str, bytes]]) -> None:
    await conn.executemany(
        "INSERT INTO statement_pdfs(statement_id, tenant, pdf) VALUES ($1, $2, $3)"
        " ON CONFLICT (statement_id) DO NOTHING",
        done,
    )
    await conn.execute(
        "UPDATE statements SET pdf_due = false WHERE statement_id = ANY($1::text[])",
        [d[0] for d in done],
    )
