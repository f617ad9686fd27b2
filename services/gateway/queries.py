"""Read-only queries over the views claims, remittance and statements publish
(docs/views.md), and the gateway's own encounters.

Every query is filtered by the caller's tenant; a claim of another tenant is not found.
Schema names come from validated settings (a pattern of lower-case identifiers).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from services.gateway import ar_trend, underpayments
from services.gateway.config import GatewaySettings

CLAIM_FIELDS = (
    "claim_id, encounter_id, state, hold_stage, self_pay, payer_id, patient_control_number,"
    " date_of_service, total_charge_cents, paid_cents, adjusted_cents,"
    " patient_responsibility_cents, payer_claim_number, frequency_code, created_at, state_since"
)
CLAIM_COLUMNS = ", ".join(f"cl.{x.strip()}" for x in CLAIM_FIELDS.split(","))
QUEUE_STATES = {"holds": "HELD", "rejections": "REJECTED", "denials": "DENIED"}
RATE_PLACES = Decimal("0.0001")
#: GET /v1/kpis's days in A/R: over the average daily charges of the 90 days to as_of.
AR_PERIOD_DAYS = 90


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _claim(row: asyncpg.Record, patients: list[str] | None = None) -> dict[str, Any]:
    """The claim as answered; its patient id (never answered) goes to ``patients``, for
    the audit row of the read."""
    out = dict(row)
    for k in ("date_of_service", "created_at", "state_since"):
        if out.get(k) is not None:
            out[k] = out[k].isoformat()
    patient = out.pop("patient_id", None)
    if patients is not None and patient:
        patients.append(patient)
    return out


async def claim(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, claim_id: str
) -> tuple[dict[str, Any], str] | None:
    """The claim, its timeline, and its patient id (for the audit), or None."""
    c = g.claims_schema
    row = await conn.fetchrow(
        f"SELECT {CLAIM_COLUMNS}, coalesce(e.patient_id, cl.patient_id, '')"
        f" AS patient_id FROM {c}.claim_v1 cl"
        f" LEFT JOIN {g.schema_name}.encounters e"
        "   ON e.tenant = cl.tenant AND e.claim_id = cl.claim_id"
        " WHERE cl.claim_id = $1 AND cl.tenant = $2",
        claim_id,
        tenant,
    )
    if row is None:
        return None
    events = await conn.fetch(
        "SELECT at, event_type, kind, from_state, to_state, detail"
        f" FROM {c}.claim_timeline_v1 WHERE claim_id = $1 ORDER BY seq",
        claim_id,
    )
    body = _claim(row)
    body["timeline"] = [
        {
            "at": e["at"].isoformat(),
            "event_type": e["event_type"],
            "kind": e["kind"],
            "from_state": e["from_state"],
            "to_state": e["to_state"],
            "detail": _json(e["detail"]),
        }
        for e in events
    ]
    return body, row["patient_id"]


async def search(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    *,
    state: str | None,
    payer_id: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    patient_control_number: str | None,
    after: str | None,
    limit: int,
    patients: list[str] | None = None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {CLAIM_COLUMNS}, cl.patient_id FROM {g.claims_schema}.claim_v1 cl"
        " WHERE tenant = $1"
        " AND ($2::text IS NULL OR state = $2)"
        " AND ($3::text IS NULL OR payer_id = $3)"
        " AND ($4::date IS NULL OR date_of_service >= $4)"
        " AND ($5::date IS NULL OR date_of_service <= $5)"
        " AND ($6::text IS NULL OR patient_control_number = $6)"
        " AND ($7::text IS NULL OR claim_id > $7)"
        " ORDER BY claim_id LIMIT $8",
        tenant,
        state,
        payer_id,
        date_from,
        date_to,
        patient_control_number,
        after,
        limit,
    )
    return [_claim(r, patients) for r in rows]


async def work_queue(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    queue: str,
    limit: int,
    patients: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Held, rejected or denied claims with the reasons from the event that put them there."""
    if queue == "unmatched":
        return await unmatched(conn, g, tenant, limit)
    if queue == "underpayments":
        return await underpayments.queue(conn, g, tenant, limit)
    state = QUEUE_STATES[queue]
    c = g.claims_schema
    rows = await conn.fetch(
        f"SELECT {CLAIM_COLUMNS},"
        " ev.detail AS why, ev.event_type AS why_event,"
        " (e.encounter_id IS NOT NULL) AS fixable_here,"
        " coalesce(e.patient_id, cl.patient_id) AS patient_id"
        f" FROM {c}.claim_v1 cl"
        " LEFT JOIN LATERAL (SELECT detail, event_type FROM"
        f"   {c}.claim_timeline_v1 ce WHERE ce.claim_id = cl.claim_id AND ce.to_state = $2"
        "   ORDER BY ce.seq DESC LIMIT 1) ev ON true"
        f" LEFT JOIN {g.schema_name}.encounters e"
        "   ON e.tenant = cl.tenant AND e.claim_id = cl.claim_id"
        " WHERE cl.tenant = $1 AND cl.state = $2"
        " ORDER BY cl.state_since LIMIT $3",
        tenant,
        state,
        limit,
    )
    out = []
    for r in rows:
        item = _claim(r, patients)
        why = _json(item.pop("why")) or {}
        item["reason_event"] = item.pop("why_event")
        item["reasons"] = why.get("reasons") or why.get("errors") or []
        if queue == "denials":
            item["adjustments"] = why.get("adjustments") or []
            item["denial_category"] = why.get("denial_category")
        out.append(item)
    return out


async def _exists(conn: asyncpg.Connection, qualified: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified))


async def unmatched(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, limit: int
) -> list[dict[str, Any]]:
    """Remittance the pipeline could not post: unmatched claim payments, unbalanced 835s.

    Reads remittance's ``unmatched_v1`` and ``remit_v1`` views; a gateway deployed
    without remittance has an empty queue.
    """
    r = g.remittance_schema
    if not await _exists(conn, f"{r}.unmatched_v1"):
        return []
    rows = await conn.fetch(
        "SELECT unmatched_id AS id, payer_id, trace_number, patient_control_number,"
        " payer_claim_number, status_code, amount_cents, charge_cents, reason, service_date,"
        f" received_at FROM {r}.unmatched_v1 WHERE tenant = $1 AND resolved_at IS NULL"
        " ORDER BY unmatched_id LIMIT $2",
        tenant,
        limit,
    )
    out = [{"kind": "unmatched_payment", **_plain(dict(x))} for x in rows]
    rows = await conn.fetch(
        "SELECT remit_id AS id, payer_id, trace_number, source, status, problems, received_at"
        f" FROM {r}.remit_v1 WHERE tenant = $1"
        " AND status IN ('unbalanced', 'unreadable', 'quarantined')"
        " AND resolved_at IS NULL ORDER BY remit_id LIMIT $2",
        tenant,
        limit,
    )
    out += [{"kind": f"{x['status']}_remit", **_plain(dict(x))} for x in rows]
    if await _has_column(conn, r, "remit_v1", "warnings"):
        rows = await conn.fetch(
            "SELECT remit_id AS id, payer_id, trace_number, source, status, problems, warnings,"
            f" received_at FROM {r}.remit_v1 WHERE tenant = $1 AND status = 'posted'"
            " AND warnings <> '[]'::jsonb AND resolved_at IS NULL ORDER BY remit_id LIMIT $2",
            tenant,
            limit,
        )
        out += [{"kind": "warned_remit", **_plain(dict(x))} for x in rows]
    return out[:limit]


async def _has_column(conn: asyncpg.Connection, schema: str, view: str, column: str) -> bool:
    """Whether a view has a column yet (a gateway may run beside an older publisher)."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
            schema,
            view,
            column,
        )
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("x12", "tenant"):
            continue
        if isinstance(v, dt.date | dt.datetime):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = str(v)
        elif isinstance(v, bytes | memoryview):
            continue
        elif isinstance(v, str) and k in ("problems", "detail", "warnings"):
            v = _json(v)
        out[k] = v
    return out


def _rate(num: int, den: int) -> str | None:
    if den <= 0:
        return None
    return str((Decimal(num) / Decimal(den)).quantize(RATE_PLACES))


Window = tuple[str, dt.date, dt.date]


async def _claim_counts(conn: asyncpg.Connection, c: str, window: Window) -> asyncpg.Record:
    """Claims of services in the window: submitted, clean, decided, first-pass, denied."""
    return await conn.fetchrow(
        "WITH w AS ("
        f"  SELECT claim_id, state FROM {c}.claim_v1"
        "   WHERE tenant = $1 AND date_of_service BETWEEN $2 AND $3),"
        " t AS ("
        "  SELECT w.claim_id,"
        "   bool_or(ev.event_type = 'rcm.claim.submitted.v1') AS submitted,"
        "   count(*) FILTER (WHERE ev.event_type = 'rcm.claim.submitted.v1') AS submissions,"
        "   bool_or(ev.to_state IN ('HELD', 'REJECTED')) AS stopped,"
        "   bool_or(ev.to_state = 'DENIED') AS denied,"
        "   bool_or(ev.to_state IN ('PAID', 'PARTIALLY_PAID', 'DENIED')) AS decided,"
        "   bool_or(ev.to_state IN ('PAID', 'PARTIALLY_PAID')) AS paid"
        f"  FROM w JOIN {c}.claim_timeline_v1 ev ON ev.claim_id = w.claim_id"
        "  WHERE ev.kind = 'transition' GROUP BY w.claim_id)"
        " SELECT count(*) FILTER (WHERE submitted) AS submitted,"
        "  count(*) FILTER (WHERE submitted AND NOT stopped) AS clean,"
        "  count(*) FILTER (WHERE decided) AS decided,"
        "  count(*) FILTER (WHERE decided AND paid AND NOT denied AND NOT stopped"
        "                   AND submissions = 1) AS first_pass,"
        "  count(*) FILTER (WHERE denied) AS denied"
        " FROM t",
        *window,
    )


async def _patient_paid(conn: asyncpg.Connection, g: GatewaySettings, window: Window) -> int:
    """What patients paid on the window's claims; 0 where statements does not run."""
    s, c = g.statements_schema, g.claims_schema
    if not await _exists(conn, f"{s}.ledger_v1"):
        return 0
    return int(
        await conn.fetchval(
            "SELECT -coalesce(sum(l.amount_cents), 0)::bigint"
            f" FROM {s}.ledger_v1 l JOIN {c}.claim_v1 cl ON cl.claim_id = l.claim_id"
            " WHERE l.tenant = $1 AND cl.tenant = $1 AND l.kind = 'patient_payment'"
            "  AND cl.date_of_service BETWEEN $2 AND $3",
            *window,
        )
    )


async def kpis(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    as_of: dt.date,
) -> dict[str, Any]:
    """The KPIs defined in the OpenAPI description of GET /v1/kpis."""
    c = g.claims_schema
    window = (tenant, date_from, date_to)
    counts = await _claim_counts(conn, c, window)
    carcs = await conn.fetch(
        "SELECT adj->>'reason' AS carc, count(DISTINCT cl.claim_id) AS claims"
        f" FROM {c}.claim_v1 cl JOIN {c}.claim_timeline_v1 ev ON ev.claim_id = cl.claim_id"
        " CROSS JOIN LATERAL jsonb_array_elements(coalesce(ev.detail->'adjustments', '[]')) adj"
        " WHERE cl.tenant = $1 AND cl.date_of_service BETWEEN $2 AND $3"
        "   AND ev.to_state = 'DENIED' AND adj->>'group' <> 'PR'"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        *window,
    )
    money = await conn.fetchrow(
        "SELECT coalesce(sum(total_charge_cents), 0)::bigint AS charges,"
        " coalesce(sum(paid_cents), 0)::bigint AS payer_paid,"
        " coalesce(sum(adjusted_cents), 0)::bigint AS adjusted"
        f" FROM {c}.claim_v1 WHERE tenant = $1 AND date_of_service BETWEEN $2 AND $3"
        "  AND state IN ('PAID', 'PARTIALLY_PAID', 'DENIED', 'PATIENT_BILLED', 'CLOSED')",
        *window,
    )
    patient_paid = await _patient_paid(conn, g, window)
    ar = await ar_trend.at_end_of(conn, g, tenant, as_of, AR_PERIOD_DAYS)
    days_in_ar = None if ar is None or ar.days_in_ar is None else str(ar.days_in_ar)
    net_den = int(money["charges"]) - int(money["adjusted"])
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "as_of": as_of.isoformat(),
        "days_in_ar": days_in_ar,
        "ar_open_cents": ar.ar_cents if ar else 0,
        "charges_last_90_days_cents": ar.charges_cents if ar else 0,
        "clean_claim_rate": _rate(counts["clean"], counts["submitted"]),
        "first_pass_resolution_rate": _rate(counts["first_pass"], counts["decided"]),
        "denial_rate": _rate(counts["denied"], counts["decided"]),
        "denial_rate_by_carc": [
            {
                "carc": r["carc"],
                "claims": r["claims"],
                "rate": _rate(r["claims"], counts["decided"]),
            }
            for r in carcs
        ],
        "net_collection_rate": _rate(int(money["payer_paid"]) + patient_paid, net_den),
        "claims_submitted": counts["submitted"],
        "claims_decided": counts["decided"],
        "payments_cents": int(money["payer_paid"]) + patient_paid,
        "contractual_adjustments_cents": int(money["adjusted"]),
    }
