"""The SQL of the simulator's mailbox side: the 837 files taken from the outbound folder
(``mailbox_in``) and the answer files waiting to be written into the inbound folder
(``mailbox_out``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg
import orjson

from runtime.db import columns

#: (name, kind, body, states [(payer, CLM01, state)], delay in seconds)
OutFile = tuple[str, str, str, Sequence[tuple[str, str, str]], float]


async def taken(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (name, sha256) were taken before."""
    if not keys:
        return set()
    rows = await conn.fetch(
        "SELECT m.name, m.sha256 FROM mailbox_in m"
        " JOIN unnest($1::text[], $2::text[]) AS k(name, sha256) USING (name, sha256)",
        *columns(keys),
    )
    return {(r["name"], r["sha256"]) for r in rows}


async def take(conn: asyncpg.Connection, name: str, digest: str) -> bool:
    """Records the file as taken; False when another instance took it first."""
    row = await conn.fetchval(
        "INSERT INTO mailbox_in(name, sha256, outcome) VALUES ($1, $2, 'taking')"
        " ON CONFLICT DO NOTHING RETURNING 1",
        name,
        digest,
    )
    return row is not None


async def taken_as(
    conn: asyncpg.Connection, name: str, digest: str, outcome: str, received_id: int | None
) -> None:
    await conn.execute(
        "UPDATE mailbox_in SET outcome = $3, received_id = $4 WHERE name = $1 AND sha256 = $2",
        name,
        digest,
        outcome,
        received_id,
    )


async def queue_files(conn: asyncpg.Connection, files: Sequence[OutFile]) -> None:
    """The answer files, each due ``delay`` seconds from now; one statement."""
    if not files:
        return
    await conn.execute(
        "INSERT INTO mailbox_out(name, kind, body, states, due_at)"
        " SELECT n, k, b, s::jsonb, now() + make_interval(secs => d)"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[])"
        " AS f(n, k, b, s, d)",
        *columns(
            [(n, k, b, orjson.dumps([list(s) for s in st]).decode(), d) for n, k, b, st, d in files]
        ),
    )


async def due_files(conn: asyncpg.Connection, limit: int = 200) -> list[asyncpg.Record]:
    """Answer files whose time has come, claimed for this transaction (in due order)."""
    return list(
        await conn.fetch(
            "SELECT id, name, kind, body, states FROM mailbox_out"
            " WHERE written_at IS NULL AND due_at <= now()"
            " ORDER BY due_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
    )


async def written(conn: asyncpg.Connection, ids: list[int], at: dt.datetime) -> None:
    await conn.execute(
        "UPDATE mailbox_out SET written_at = $2 WHERE id = ANY($1::bigint[])", ids, at
    )


#: Seconds until the soonest answer file falls due (the writer's wake).
NEXT_DUE = (
    "SELECT extract(epoch FROM (SELECT min(due_at) FROM mailbox_out"
    " WHERE written_at IS NULL AND due_at > now()) - now())"
)
