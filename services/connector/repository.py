"""Every SQL statement of the connector (schema ``connector``)."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.connector.envelope import Envelope


async def receipt(
    conn: asyncpg.Connection, account: str, name: str, digest: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT outcome, reason, kind FROM receipts"
        " WHERE account = $1 AND name = $2 AND sha256 = $3",
        account,
        name,
        digest,
    )
    return row


async def rejected_unchanged(
    conn: asyncpg.Connection, account: str, names: list[str]
) -> set[tuple[str, int, int]]:
    """The (name, size, time) of the remote files among ``names`` refused already: those
    are not fetched again each poll; a file rewritten whole comes in under a new size or
    time."""
    rows = await conn.fetch(
        "SELECT name, size_bytes, mtime FROM receipts WHERE account = $1"
        " AND name = ANY($2::text[]) AND outcome = 'rejected'",
        account,
        names,
    )
    return {(r["name"], r["size_bytes"], r["mtime"]) for r in rows}


async def add_file(
    conn: asyncpg.Connection,
    tenant: str,
    digest: str,
    env: Envelope,
    source: str,
    name: str,
    data: bytes,
) -> int | None:
    """The file's id; None when the tenant already has this content."""
    file_id: int | None = await conn.fetchval(
        "INSERT INTO inbound_files (tenant, sha256, kind, source, name, control_number,"
        " transactions, size_bytes, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (tenant, sha256) DO NOTHING RETURNING id",
        tenant,
        digest,
        env.kind,
        source,
        name,
        env.control_number,
        env.transactions,
        len(data),
        data,
    )
    return file_id


async def first(conn: asyncpg.Connection, tenant: str, digest: str) -> tuple[int, str]:
    """The id and source of the tenant's file of this content."""
    row = await conn.fetchrow(
        "SELECT id, source FROM inbound_files WHERE tenant = $1 AND sha256 = $2", tenant, digest
    )
    return row["id"], row["source"]


async def add_receipt(conn: asyncpg.Connection, **row: Any) -> None:
    await conn.execute(
        "INSERT INTO receipts (tenant, account, name, sha256, size_bytes, mtime, outcome,"
        " reason, file_id, kind, control_number)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (tenant, account, name, sha256) DO NOTHING",
        row["tenant"],
        row["account"],
        row["name"],
        row["sha256"],
        row["size_bytes"],
        row.get("mtime", 0),
        row["outcome"],
        row.get("reason", ""),
        row.get("file_id"),
        row.get("kind"),
        row.get("control_number"),
    )


async def remote_done(
    conn: asyncpg.Connection, account: str, done: list[tuple[str, str, str]]
) -> None:
    """Where each (name, sha256, where) taken-in file went remotely (archive, deleted)."""
    await conn.executemany(
        "UPDATE receipts SET remote_done = $4 WHERE account = $1 AND name = $2 AND sha256 = $3",
        [(account, name, digest, where) for name, digest, where in done],
    )


async def outbound(conn: asyncpg.Connection, account: str, digest: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, state FROM outbound_files WHERE account = $1 AND sha256 = $2",
        account,
        digest,
    )
    return row


async def add_outbound(
    conn: asyncpg.Connection,
    tenant: str,
    account: str,
    name: str,
    digest: str,
    icn: str,
    data: bytes,
) -> None:
    await conn.execute(
        "INSERT INTO outbound_files (tenant, account, name, sha256, control_number, raw)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, sha256) DO NOTHING",
        tenant,
        account,
        name,
        digest,
        icn,
        data,
    )


async def upload_again(conn: asyncpg.Connection, account: str, digest: str) -> bool:
    """An uploaded interchange due to be uploaded again (a resend: same name, same
    content); False when it is not there, or still pending (its upload will do)."""
    done = await conn.fetchval(
        "UPDATE outbound_files SET state = 'pending', next_try_at = now()"
        " WHERE account = $1 AND sha256 = $2 AND state = 'uploaded' RETURNING 1",
        account,
        digest,
    )
    return done is not None


async def outbound_result(
    conn: asyncpg.Connection,
    account: str,
    digest: str,
    error: str | None,
    retry: tuple[float, float] = (1.0, 60.0),
) -> None:
    """Records an upload's end: uploaded, or the reason and the next try (the first
    ``retry`` seconds doubling per attempt up to the second)."""
    if error is None:
        await conn.execute(
            "UPDATE outbound_files SET state = 'uploaded', uploaded_at = now(),"
            " attempts = attempts + 1, last_error = '' WHERE account = $1 AND sha256 = $2",
            account,
            digest,
        )
        return
    await conn.execute(
        "UPDATE outbound_files SET attempts = attempts + 1, last_error = $3,"
        " next_try_at = now() + make_interval(secs => least($5::float8,"
        " $4::float8 * power(2, least(attempts, 30)))) WHERE account = $1 AND sha256 = $2",
        account,
        digest,
        error,
        retry[0],
        retry[1],
    )


async def due_outbound(conn: asyncpg.Connection, account: str, limit: int) -> list[asyncpg.Record]:
    """Pending uploads whose next try has come, locked for this transaction."""
    return list(
        await conn.fetch(
            "SELECT tenant, name, sha256, control_number, attempts, last_error, raw, uploaded_at"
            " FROM outbound_files"
            " WHERE account = $1"
            " AND state = 'pending' AND next_try_at <= now() ORDER BY id LIMIT $2"
            " FOR UPDATE SKIP LOCKED",
            account,
            limit,
        )
    )
