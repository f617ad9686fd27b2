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


async def stored(conn: asyncpg.Connection, statement_ids: list[str]) -> dict[str, bytes]:
    """The PDFs kept for these statements, read once their rows are locked: a timer
    rendering one of them right now is waited for, so it is not rendered twice."""
    await conn.execute(
        "SELECT 1 FROM statements WHERE statement_id = ANY($1::text[])"
        " ORDER BY statement_id FOR UPDATE",
        statement_ids,
    )
    rows = await conn.fetch(
        "SELECT statement_id, pdf FROM statement_pdfs WHERE statement_id = ANY($1::text[])",
        statement_ids,
    )
    return {r["statement_id"]: bytes(r["pdf"]) for r in rows}
