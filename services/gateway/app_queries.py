"""What the billing office's pages read: work-queue counts and pages, a claim's story.

Reads only the views claims and remittance publish (docs/views.md) and the gateway's own
encounters; every query is filtered by the person's tenant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.gateway.config import GatewaySettings
from services.gateway.queries import QUEUE_STATES, _exists

#: A claim not yet with a payer is at risk this many days before its filing limit; a payer
#: without a directory row gets the claims service's defaults (README: RCM_CLAIMS_*_DEFAULT).
AT_RISK_DAYS = 30
DEFAULT_FILING_DAYS = 90
DEFAULT_DAYS_TO_PAY = 21
NOT_FILED = ["RECEIVED", "ELIGIBLE", "CODED", "HELD", "REJECTED"]
WITH_PAYER = ["SUBMITTED", "ACCEPTED"]
WATCH: dict[str, tuple[list[str], str, str, tuple[int, ...]]] = {
    # queue: (its states, the day that matters, the condition on it, its $3...)
    "timely": (
        NOT_FILED,
        "cl.date_of_service + coalesce(p.timely_filing_days, $3::int)",
        "<= current_date + $4::int",
        (DEFAULT_FILING_DAYS, AT_RISK_DAYS),
    ),
    "no_response": (
        WITH_PAYER,
        "cl.state_since + coalesce(p.days_to_pay, $3::int) * interval '1 day'",
        "< now()",
        (DEFAULT_DAYS_TO_PAY,),
    ),
}

QUEUES = {
    "holds": "Held before submission (eligibility, coding, payer directory)",
    "rejections": "Rejected by the clearinghouse (999 / 277CA)",
    "denials": "Denied by the payer (835)",
    "unmatched": "Remittance not posted (unmatched, unbalanced, warned)",
    "timely": f"Not yet with a payer, the filing limit {AT_RISK_DAYS} days away or less",
    "no_response": "With the payer past its days to pay, no answer yet",
}
SORTS = ("age", "amount")
#: What to do with a denial, by remittance's denial category (docs/views.md, denial_v1).
NEXT_STEP = {
    "correctable": "correct the claim and send it again",
    "appealable": "appeal with the records the payer asks for",
    "write_off": "write it off (contractual: the patient owes nothing)",
}


@dataclass(frozen=True, slots=True)
class QueueFilter:
    payer: str = ""
    min_age_days: int = 0
    min_amount_cents: int = 0
    sort: str = "age"
    after: str = ""  # keyset: "<sort value>|<claim id>" of the last row shown
    provider: str = ""  # the rendering provider's NPI


async def queue_counts(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str
) -> list[dict[str, Any]]:
    """Each queue's count and its oldest item's time."""
    rows = await conn.fetch(
        f"SELECT state, count(*) AS n, min(state_since) AS oldest FROM {g.claims_schema}.claim_v1"
        " WHERE tenant = $1 AND state = ANY($2::text[]) GROUP BY state",
        tenant,
        list(QUEUE_STATES.values()),
    )
    by_state = {r["state"]: r for r in rows}
    out = []
    for name, state in QUEUE_STATES.items():
        r = by_state.get(state)
        out.append({"name": name, "n": r["n"] if r else 0, "oldest": r["oldest"] if r else None})
    n, oldest = 0, None
    r_schema = g.remittance_schema
    if await _exists(conn, f"{r_schema}.unmatched_v1"):
        row = await conn.fetchrow(
            "SELECT count(*) AS n, min(received_at) AS oldest"
            f" FROM {r_schema}.unmatched_v1 WHERE tenant = $1 AND resolved_at IS NULL",
            tenant,
        )
        n, oldest = row["n"], row["oldest"]
    out.append({"name": "unmatched", "n": n, "oldest": oldest})
    for name in WATCH:
        n, first = await watch_count(conn, g, tenant, name)
        day = first.date() if isinstance(first, dt.datetime) else first
        out.append({"name": name, "n": n, "oldest": None, "due": day})
    return out


def _keyset(f: QueueFilter) -> tuple[dt.datetime | None, int | None, str | None]:
    value, _, claim_id = f.after.partition("|")
    if not claim_id:
        return None, None, None
    try:
        if f.sort == "amount":
            return None, int(value), claim_id
        return dt.datetime.fromisoformat(value), None, claim_id
    except ValueError:
        return None, None, None


async def queue_page(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    queue: str,
    f: QueueFilter,
    limit: int,
) -> tuple[list[dict[str, Any]], str]:
    """One page of a claim queue, oldest first or largest first; and the next page's key."""
    c = g.claims_schema
    after_at, after_amount, after_id = _keyset(f)
    order = (
        "coalesce(cl.total_charge_cents, 0) DESC, cl.claim_id DESC"
        if f.sort == "amount"
        else "cl.state_since, cl.claim_id"
    )
    rows = await conn.fetch(
        "SELECT p.*, ev.detail AS why FROM ("
        " SELECT cl.claim_id, cl.payer_id, cl.total_charge_cents, cl.created_at, cl.state_since,"
        "  cl.date_of_service, cl.state, cl.patient_id, cl.rendering_npi"
        f" FROM {c}.claim_v1 cl WHERE cl.tenant = $1 AND cl.state = $2"
        "  AND ($3 = '' OR cl.payer_id = $3) AND ($10 = '' OR cl.rendering_npi = $10)"
        "  AND cl.state_since <= now() - $4 * interval '1 day'"
        "  AND coalesce(cl.total_charge_cents, 0) >= $5"
        "  AND ($6::text IS NULL OR ("
        "   CASE WHEN $7::timestamptz IS NOT NULL"
        "    THEN (cl.state_since, cl.claim_id) > ($7, $6)"
        "    ELSE (coalesce(cl.total_charge_cents, 0), cl.claim_id) < ($8::bigint, $6) END))"
        f" ORDER BY {order} LIMIT $9) p"
        " LEFT JOIN LATERAL (SELECT detail FROM"
        f"   {c}.claim_timeline_v1 ce WHERE ce.claim_id = p.claim_id AND ce.to_state = p.state"
        "   ORDER BY ce.seq DESC LIMIT 1) ev ON true"
        f" ORDER BY {order.replace('cl.', 'p.')}",
        tenant,
        QUEUE_STATES[queue],
        f.payer,
        f.min_age_days,
        f.min_amount_cents,
        after_id,
        after_at,
        after_amount,
        limit,
        f.provider,
    )
    items = [_item(dict(r)) for r in rows]
    nxt = ""
    if len(rows) == limit:
        last = rows[-1]
        value = (
            str(last["total_charge_cents"] or 0)
            if f.sort == "amount"
            else last["state_since"].isoformat()
        )
        nxt = f"{value}|{last['claim_id']}"
    return items, nxt


def _item(row: dict[str, Any]) -> dict[str, Any]:
    why = row.pop("why")
    why = orjson.loads(why) if isinstance(why, str) else (why or {})
    row["reasons"] = why.get("reasons") or why.get("errors") or []
    row["adjustments"] = why.get("adjustments") or []
    row["next_step"] = NEXT_STEP.get(why.get("denial_category") or "", "")
    return row


async def unmatched_page(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, limit: int
) -> list[dict[str, Any]]:
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.unmatched_v1"):
        return []
    rows = await conn.fetch(
        "SELECT unmatched_id, payer_id, trace_number, patient_control_number, amount_cents,"
        f" reason, received_at FROM {r}.unmatched_v1 WHERE tenant = $1 AND resolved_at IS NULL"
        " ORDER BY received_at, unmatched_id LIMIT $2",
        tenant,
        limit,
    )
    return [dict(x) for x in rows]


async def encounter_body(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str
) -> dict[str, Any] | None:
    """The encounter as the gateway took it (the latest fix included), for the claim page."""
    body = await conn.fetchval(
        f"SELECT body FROM {g.schema_name}.encounters WHERE tenant = $1 AND claim_id = $2"
        " ORDER BY updated_at DESC LIMIT 1",
        tenant,
        claim_id,
    )
    if body is None:
        return None
    out: dict[str, Any] = orjson.loads(body) if isinstance(body, str) else body
    return out


async def account(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, guarantor_id: str
) -> dict[str, Any] | None:
    """A guarantor's ledger (newest first), balance and statements; None when the tenant
    has no such account (or statements does not run beside this gateway)."""
    s = g.statements_schema
    if not await _exists(conn, f"{s}.ledger_v1"):
        return None
    entries = await conn.fetch(
        "SELECT entry_id, claim_id, kind, reason, amount_cents, payment_id, payer_id, at"
        f" FROM {s}.ledger_v1 WHERE tenant = $1 AND guarantor_id = $2"
        " ORDER BY at DESC, entry_id DESC LIMIT 500",
        tenant,
        guarantor_id,
    )
    if not entries:
        return None
    balance = await conn.fetchval(
        f"SELECT coalesce(sum(amount_cents), 0)::bigint FROM {s}.ledger_v1"
        " WHERE tenant = $1 AND guarantor_id = $2",
        tenant,
        guarantor_id,
    )
    statements = await conn.fetch(
        "SELECT statement_id, statement_date, due_date, balance_cents, aging_bucket"
        f" FROM {s}.statement_v1 WHERE tenant = $1 AND guarantor_id = $2"
        " ORDER BY statement_date DESC, statement_id DESC LIMIT 50",
        tenant,
        guarantor_id,
    )
    return {
        "guarantor_id": guarantor_id,
        "balance_cents": int(balance),
        "entries": [dict(e) for e in entries],
        "statements": [dict(x) for x in statements],
    }


def _watch_sql(g: GatewaySettings, queue: str, select: str, tail: str) -> str:
    _, due, cond, _ = WATCH[queue]
    return (
        f"SELECT {select} FROM {g.claims_schema}.claim_v1 cl"
        f" LEFT JOIN {g.claims_schema}.payer_v1 p ON p.tenant = cl.tenant"
        "  AND p.payer_id = cl.payer_id"
        f" WHERE cl.tenant = $1 AND cl.state = ANY($2::text[]) AND NOT cl.self_pay"
        f"  AND ({due}) {cond} {tail}"
    )


def _watch_args(tenant: str, queue: str) -> list[Any]:
    return [tenant, WATCH[queue][0], *WATCH[queue][3]]


async def watch_count(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, queue: str
) -> tuple[int, Any]:
    """How many claims a watch queue holds, and when its first is due."""
    due = WATCH[queue][1]
    row = await conn.fetchrow(
        _watch_sql(g, queue, f"count(*) AS n, min({due}) AS first", ""),
        *_watch_args(tenant, queue),
    )
    return int(row["n"]), row["first"]


def _watch_after(queue: str, after: str) -> tuple[Any, str] | None:
    """The keyset a next-page link carries: the last row's due moment and claim id."""
    value, _, claim_id = after.partition("|")
    if not claim_id:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (at.date() if queue == "timely" else at), claim_id


async def watch_page(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    queue: str,
    limit: int,
    after: str = "",
) -> tuple[list[dict[str, Any]], str]:
    """A page of a watch queue, the claim due first first, each with its due day; and the
    next page's keyset."""
    due = WATCH[queue][1]
    args = _watch_args(tenant, queue)
    keyset = _watch_after(queue, after)
    cast = "date" if queue == "timely" else "timestamptz"
    page = ""
    if keyset is not None:
        page = f"AND ({due}, cl.claim_id) > (${len(args) + 1}::{cast}, ${len(args) + 2}::text)"
        args += list(keyset)
    rows = await conn.fetch(
        _watch_sql(
            g,
            queue,
            "cl.claim_id, cl.payer_id, cl.total_charge_cents, cl.created_at, cl.state_since,"
            f" cl.date_of_service, cl.state, cl.patient_id, cl.rendering_npi, {due} AS due",
            f"{page} ORDER BY {due}, cl.claim_id LIMIT ${len(args) + 1}",
        ),
        *args,
        limit,
    )
    out = []
    for r in rows:
        item = dict(r)
        due_on = item.pop("due")
        day = due_on.date() if isinstance(due_on, dt.datetime) else due_on
        word = "file by" if queue == "timely" else "the payer owed an answer by"
        item["reasons"] = [{"message": f"{item['state']}: {word} {day}"}]
        item["adjustments"] = []
        out.append(item)
    nxt = ""
    if len(rows) == limit:
        nxt = f"{rows[-1]['due'].isoformat()}|{rows[-1]['claim_id']}"
    return out, nxt
