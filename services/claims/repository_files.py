"""The SQL of the interchange hand-off to the connector (services/claims/batch.py and
sent.py); beside repository.py, which holds the rest of the room's statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from runtime.context import Context
from services.claims.repository import BatchLocks


async def hand_off(conn: asyncpg.Connection, claim_ids: Sequence[str]) -> None:
    """The claims of an interchange handed to the connector: no longer waiting to be
    batched, still CODED until the connector reports the upload (services/claims/sent.py)."""
    await conn.execute(
        "UPDATE claims SET outgoing_frequency = NULL WHERE claim_id = ANY($1::text[])",
        list(claim_ids),
    )


async def interchange_of(
    conn: asyncpg.Connection, tenant: str | None, icn: int
) -> asyncpg.Record | None:
    """The tenant's interchange (``tenant`` None: whoever's; control numbers are one
    series for every trading partner, so unique in the install)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT interchange_control_number, group_control_number, payer_id, x12, tenant"
        " FROM interchanges WHERE interchange_control_number = $1"
        " AND ($2::text IS NULL OR tenant = $2)",
        icn,
        tenant,
    )
    return row


async def submissions_of(conn: asyncpg.Connection, icn: int) -> list[asyncpg.Record]:
    """The claims an interchange carried: claim id, CLM01, frequency code, and the
    claim's trace and total charge."""
    return list(
        await conn.fetch(
            "SELECT s.claim_id, s.patient_control_number, s.frequency_code, c.traceparent,"
            " c.total_charge_cents FROM submissions s JOIN claims c USING (claim_id)"
            " WHERE s.interchange_control_number = $1 ORDER BY s.claim_id",
            icn,
        )
    )


async def interchange_by_group(
    conn: asyncpg.Connection, tenant: str | None, gcn: int
) -> asyncpg.Record | None:
    """The tenant's (None: whoever's) interchange whose functional group (GS06) a 999
    answers."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT interchange_control_number, x12, tenant FROM interchanges"
        " WHERE ($1::text IS NULL OR tenant = $1) AND group_control_number = $2"
        " ORDER BY interchange_control_number DESC LIMIT 1",
        tenant,
        gcn,
    )
    return row


async def traces(conn: asyncpg.Connection, claim_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Each claim's trace context (the acknowledgements join the claim's trace)."""
    return list(
        await conn.fetch(
            "SELECT claim_id, traceparent FROM claims WHERE claim_id = ANY($1::text[])",
            list(claim_ids),
        )
    )


async def lock_all(ctx: Context, claim_ids: Sequence[str]) -> dict[str, Mapping[str, Any] | None]:
    """Locks the claims of an interchange in one round trip (those the batch did not
    lock up front), in claim id order, and returns each one's row (None: no claim)."""
    locks = ctx.batch if isinstance(ctx.batch, BatchLocks) else None
    out: dict[str, Mapping[str, Any] | None] = {}
    todo = []
    for cid in sorted(claim_ids):
        hit = locks.take(cid, False) if locks is not None else None
        if hit is not None:
            out[cid] = hit[1]
        else:
            todo.append(cid)
    if todo:
        await ctx.flush()
        rows = await ctx.conn.fetch(
            "SELECT * FROM claims_for_update($1::text[], $2::boolean[])",
            todo,
            [False] * len(todo),
        )
        for r in rows:
            if locks is not None:
                locks.add(r)
            out[r["claim_id"]] = dict(r) if r["state"] is not None else None
    return out


async def interchange(conn: asyncpg.Connection, icn: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT group_control_number, payer_id, cardinality(claim_ids) AS claims, x12"
        " FROM interchanges WHERE interchange_control_number = $1",
        icn,
    )


async def interchange_resent(conn: asyncpg.Connection, icn: int, resends: int) -> bool:
    """Counts the ``resends``-th resend once per interchange (False: another claim did)."""
    done = await conn.fetchval(
        "UPDATE interchanges SET resends = $2, last_sent_at = now()"
        " WHERE interchange_control_number = $1 AND resends < $2 RETURNING 1",
        icn,
        resends,
    )
    return done is not None


_AWAITING = (
    "SELECT DISTINCT c.tenant, last.icn FROM claims c"
    " CROSS JOIN LATERAL (SELECT s.interchange_control_number AS icn FROM submissions s"
    "   WHERE s.claim_id = c.claim_id ORDER BY s.id DESC LIMIT 1) last"
    " WHERE c.claim_id = ANY($1::text[]) AND c.state = 'CODED' AND c.outgoing_frequency IS NULL"
    " AND ($2::bigint IS NULL OR last.icn = $2)"
    " ORDER BY last.icn"
)


async def awaiting_upload(
    conn: asyncpg.Connection, claim_ids: Sequence[str], icn: int | None
) -> list[tuple[str, int]]:
    """(tenant, interchange) of these claims that are CODED, handed to the connector in
    interchange ``icn`` (None: their latest) and not yet reported uploaded: a payer's
    answer to them proves the upload (sent.submit_answered). One query."""
    rows = await conn.fetch(_AWAITING, list(claim_ids), icn)
    return [(r["tenant"], int(r["icn"])) for r in rows]
