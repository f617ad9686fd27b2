"""The appeals' SQL (table ``appeals``, migration 0018; services/claims/appeals.py holds
the rules, appeal_handlers.py applies them), and whether a denied claim was resubmitted
automatically before (handlers.auto_resubmit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import orjson


async def claim_facts(conn: asyncpg.Connection, claim_id: str) -> asyncpg.Record | None:
    """What an appeal letter states about the claim, and when the payer decided it (the
    latest 835 answer applied to it that was not a reversal)."""
    return await conn.fetchrow(
        "SELECT c.patient_control_number, c.date_of_service, c.total_charge_cents,"
        " coalesce(c.paid_cents, 0) AS paid_cents,"
        " (SELECT max(e.at)::date FROM claim_events e WHERE e.claim_id = c.claim_id"
        "   AND e.event_type = 'rcm.claim.adjudicated.v1' AND e.kind IN ('transition', 'late')"
        "   AND e.detail->>'status' <> 'reversed') AS determined_on"
        " FROM claims c WHERE c.claim_id = $1",
        claim_id,
    )


async def open_appeal(conn: asyncpg.Connection, claim_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.appeal_id, a.state, a.payer_id, a.paid_before_cents, a.payer_claim_number,"
        " a.lines, coalesce(c.patient_control_number, a.claim_id) AS patient_control_number"
        " FROM appeals a LEFT JOIN claims c ON c.claim_id = a.claim_id"
        " WHERE a.claim_id = $1 AND a.state <> 'decided'",
        claim_id,
    )


async def appeals_of(conn: asyncpg.Connection, claim_id: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM appeals WHERE claim_id = $1", claim_id))


async def insert(conn: asyncpg.Connection, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO appeals(appeal_id, tenant, claim_id, payer_id, payer_claim_number,"
        " category, lines, attachments, state, determination_date, deadline,"
        " paid_before_cents, letter, drafted_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, 'drafted', $9, $10, $11, $12, $13)",
        row["appeal_id"],
        row["tenant"],
        row["claim_id"],
        row["payer_id"],
        row["payer_claim_number"],
        row["category"],
        orjson.dumps(row["lines"]).decode(),
        row["attachments"],
        row["determination_date"],
        row["deadline"],
        row["paid_before_cents"],
        row["letter"],
        row["drafted_by"],
    )


async def mark_sent(
    conn: asyncpg.Connection, appeal_id: str, at: dt.datetime, answer_due: dt.date | None
) -> None:
    await conn.execute(
        "UPDATE appeals SET state = 'sent', sent_at = $2, answer_due = $3 WHERE appeal_id = $1",
        appeal_id,
        at,
        answer_due,
    )


async def mark_decided(
    conn: asyncpg.Connection, appeal_id: str, outcome: str, paid_after_cents: int
) -> None:
    await conn.execute(
        "UPDATE appeals SET state = 'decided', outcome = $2, paid_after_cents = $3,"
        " decided_at = now() WHERE appeal_id = $1",
        appeal_id,
        outcome,
        paid_after_cents,
    )


async def claim_state(conn: asyncpg.Connection, claim_id: str) -> str | None:
    state = await conn.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    return str(state) if state is not None else None


async def auto_resubmitted(conn: asyncpg.Connection, claim_id: str, step: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM claim_events WHERE claim_id = $1 AND event_type = $2"
            " AND kind = 'transition')",
            claim_id,
            step,
        )
    )


async def appeal_alerts(
    conn: asyncpg.Connection, today: dt.date, warn_days: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Marks and returns, once each, the drafted appeals whose deadline is within
    ``warn_days`` (or passed) and the sent appeals whose answer is overdue."""
    near = await conn.fetch(
        "UPDATE appeals SET deadline_warned_at = now() WHERE state = 'drafted'"
        " AND deadline_warned_at IS NULL AND deadline <= $1::date + $2::int"
        " RETURNING appeal_id, claim_id, tenant, deadline",
        today,
        warn_days,
    )
    overdue = await conn.fetch(
        "UPDATE appeals SET overdue_at = now() WHERE state = 'sent' AND overdue_at IS NULL"
        " AND answer_due < $1 RETURNING appeal_id, claim_id, tenant, answer_due",
        today,
    )
    return list(near), list(overdue)
