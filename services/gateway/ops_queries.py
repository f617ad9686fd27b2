"""Read-only ops figures over the views claims, remittance and statements publish
(docs/views.md), per tenant.

Counts and sums only: no patient data leaves these queries (claim ids are not PHI).
Schema names come from validated settings (a pattern of lower-case identifiers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from schemas.states import ClaimState as STATES
from services.gateway.config import GatewaySettings

AGING_BUCKETS = ("0-30", "31-60", "61-90", "91-120", "120+")
# The same buckets as patient statements (services/statements/domain.py).
_BUCKET_SQL = (
    "CASE WHEN {d} <= 30 THEN '0-30' WHEN {d} <= 60 THEN '31-60' WHEN {d} <= 90 THEN '61-90'"
    " WHEN {d} <= 120 THEN '91-120' ELSE '120+' END"
)
STUCK_LISTED = 20

# Claim adjustment group codes (X12 CAS01) and a few common claim adjustment reason
# codes, summarised in our own words so the dashboard is readable at a glance.
GROUPS = {
    "CO": "contractual obligation",
    "PR": "patient responsibility",
    "OA": "other adjustment",
    "PI": "payer initiated",
    "CR": "correction or reversal",
}
REASONS = {
    "4": "modifier inconsistent or missing",
    "5": "place of service inconsistent",
    "11": "diagnosis inconsistent with procedure",
    "16": "missing or invalid information",
    "18": "exact duplicate claim",
    "22": "other coverage may be primary",
    "27": "coverage ended before service",
    "29": "timely filing limit passed",
    "31": "patient not identified as insured",
    "45": "above the fee schedule",
    "50": "not medically necessary",
    "96": "non-covered charge",
    "97": "included in another service",
    "109": "not covered by this payer",
    "119": "benefit maximum reached",
    "151": "frequency not supported",
    "167": "diagnosis not covered",
    "197": "authorization absent",
    "204": "not covered by the plan",
    "234": "procedure not paid separately",
    "236": "procedure/modifier combination not allowed",
}


async def _exists(conn: asyncpg.Connection, qualified: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified))


async def funnel(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, *, minutes: int
) -> dict[str, Any]:
    """Claims per saga state now, those over their state's limit, transitions per minute."""
    c = g.claims_schema
    limits = g.stuck_limits()
    names, secs = list(limits), [float(v) for v in limits.values()]
    now = await conn.fetchval("SELECT now()")
    rows = await conn.fetch(
        "SELECT cl.state, count(*) AS claims,"
        " count(*) FILTER (WHERE cl.state_since < now() - l.limit_s * interval '1 second')"
        "   AS stuck,"
        " extract(epoch FROM now() - min(cl.state_since))::float8 AS oldest_s"
        f" FROM {c}.claim_v1 cl"
        " LEFT JOIN unnest($2::text[], $3::float8[]) AS l(state, limit_s) ON l.state = cl.state"
        " WHERE cl.tenant = $1 GROUP BY cl.state",
        tenant,
        names,
        secs,
    )
    by_state = {r["state"]: r for r in rows}
    states = []
    for name in STATES:
        r = by_state.get(name)
        states.append(
            {
                "state": name,
                "claims": int(r["claims"]) if r else 0,
                "stuck": int(r["stuck"]) if r else 0,
                "limit_s": limits.get(name),
                "oldest_s": round(float(r["oldest_s"]), 1) if r else None,
            }
        )
    stuck_rows = await conn.fetch(
        "SELECT cl.claim_id, cl.state, cl.state_since, l.limit_s,"
        " extract(epoch FROM now() - cl.state_since)::float8 AS age_s"
        f" FROM {c}.claim_v1 cl"
        " JOIN unnest($2::text[], $3::float8[]) AS l(state, limit_s) ON l.state = cl.state"
        " WHERE cl.tenant = $1 AND cl.state_since < now() - l.limit_s * interval '1 second'"
        " ORDER BY cl.state_since, cl.claim_id LIMIT $4",
        tenant,
        names,
        secs,
        STUCK_LISTED,
    )
    return {
        "as_of": now.isoformat(),
        "states": states,
        "claims": sum(s["claims"] for s in states),
        "stuck_total": sum(s["stuck"] for s in states),
        "stuck": [
            {
                "claim_id": r["claim_id"],
                "state": r["state"],
                "since": r["state_since"].isoformat(),
                "age_s": round(float(r["age_s"]), 1),
                "limit_s": int(r["limit_s"]),
            }
            for r in stuck_rows
        ],
        "throughput": await _throughput(conn, c, tenant, now, minutes),
    }


async def _throughput(
    conn: asyncpg.Connection, c: str, tenant: str, now: dt.datetime, minutes: int
) -> dict[str, Any]:
    """Transitions into each state per minute over the last ``minutes`` minutes."""
    flow = await conn.fetch(
        "SELECT ev.to_state, date_trunc('minute', ev.at) AS minute, count(*) AS n"
        f" FROM {c}.claim_timeline_v1 ev JOIN {c}.claim_v1 cl ON cl.claim_id = ev.claim_id"
        " WHERE cl.tenant = $1 AND ev.kind = 'transition'"
        "   AND ev.at >= date_trunc('minute', now()) - ($2 - 1) * interval '1 minute'"
        " GROUP BY 1, 2",
        tenant,
        minutes,
    )
    start = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes - 1)
    marks = [start + dt.timedelta(minutes=i) for i in range(minutes)]
    series: dict[str, list[int]] = {s: [0] * minutes for s in STATES}
    for r in flow:
        i = int((r["minute"] - start).total_seconds() // 60)
        if r["to_state"] in series and 0 <= i < minutes:
            series[r["to_state"]][i] += int(r["n"])
    return {
        "window_minutes": minutes,
        "minutes": [m.isoformat() for m in marks],
        "stages": [
            {"to_state": s, "transitions": sum(series[s]), "per_minute": series[s]} for s in STATES
        ],
    }


def _denial_item(x: asyncpg.Record) -> dict[str, Any]:
    return {
        "group": x["grp"],
        "reason": x["reason"],
        "code": f"{x['grp']}-{x['reason']}",
        "label": REASONS.get(x["reason"], ""),
        "group_label": GROUPS.get(x["grp"], ""),
        "category": x["category"],
        "claims": int(x["claims"]),
        "lines": int(x["lines"]),
        "amount_cents": int(x["amount_cents"]),
        "open_claims": int(x["open_claims"]),
    }


async def denials(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, *, since: dt.date
) -> dict[str, Any]:
    """Denied amounts by CAS group and reason (CARC) since a day.

    From remittance's ``denial_v1`` (postings not reversed since), else from the claims'
    DENIED timeline rows (their non-patient adjustments) when remittance is absent.
    """
    r = g.remittance_schema
    if await _exists(conn, f"{r}.denial_v1"):
        source = "remittance"
        rows = await conn.fetch(
            "SELECT d.cas_group AS grp, d.reason, min(d.category) AS category,"
            " count(DISTINCT d.claim_id) AS claims, count(*) AS lines,"
            " coalesce(sum(d.amount_cents), 0)::bigint AS amount_cents,"
            " count(DISTINCT d.claim_id) FILTER (WHERE d.resolved_at IS NULL) AS open_claims"
            f" FROM {r}.denial_v1 d JOIN {r}.posting_v1 p ON p.posting_id = d.posting_id"
            " WHERE d.tenant = $1 AND d.created_at >= $2::date"
            "   AND p.reversed_by_posting_id IS NULL"
            " GROUP BY 1, 2",
            tenant,
            since,
        )
        totals = await conn.fetchrow(
            "SELECT count(DISTINCT d.claim_id) AS claims,"
            " coalesce(sum(d.amount_cents), 0)::bigint AS amount_cents"
            f" FROM {r}.denial_v1 d JOIN {r}.posting_v1 p ON p.posting_id = d.posting_id"
            " WHERE d.tenant = $1 AND d.created_at >= $2::date"
            "   AND p.reversed_by_posting_id IS NULL",
            tenant,
            since,
        )
    else:
        source = "claims"
        c = g.claims_schema
        base = (
            f" FROM {c}.claim_v1 cl JOIN {c}.claim_timeline_v1 ev ON ev.claim_id = cl.claim_id"
            " CROSS JOIN LATERAL jsonb_array_elements(coalesce(ev.detail->'adjustments',"
            "   '[]')) adj"
            " WHERE cl.tenant = $1 AND ev.to_state = 'DENIED' AND ev.at >= $2::date"
            "   AND adj->>'group' <> 'PR'"
        )
        rows = await conn.fetch(
            "SELECT adj->>'group' AS grp, adj->>'reason' AS reason, NULL::text AS category,"
            " count(DISTINCT cl.claim_id) AS claims, count(*) AS lines,"
            " coalesce(sum((adj->>'amount_cents')::bigint), 0)::bigint AS amount_cents,"
            " count(DISTINCT cl.claim_id) FILTER (WHERE cl.state = 'DENIED') AS open_claims"
            f"{base} GROUP BY 1, 2",
            tenant,
            since,
        )
        totals = await conn.fetchrow(
            "SELECT count(DISTINCT cl.claim_id) AS claims,"
            " coalesce(sum((adj->>'amount_cents')::bigint), 0)::bigint AS amount_cents"
            f"{base}",
            tenant,
            since,
        )
    items = [_denial_item(x) for x in rows]
    items.sort(key=lambda i: (-i["amount_cents"], -i["claims"], i["code"]))
    return {
        "since": since.isoformat(),
        "source": source,
        "items": items,
        "claims": int(totals["claims"]) if totals else 0,
        "amount_cents": int(totals["amount_cents"]) if totals else 0,
    }


async def aging(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, *, as_of: dt.date
) -> dict[str, Any]:
    """A/R aging in 30-day buckets, in cents.

    - insurance: claims with the payer (SUBMITTED or ACCEPTED), their open balance
      (charge - paid - adjusted), by days since the claim was first submitted;
    - patient: claims insurance is done with, their balance on the statements ledger,
      by days since the patient was first billed (as on statements);
    - patient_credit_cents: money received beyond what was owed (unapplied).
    """
    c = g.claims_schema
    buckets = {b: {"insurance_claims": 0, "insurance_cents": 0} for b in AGING_BUCKETS}
    for b in buckets.values():
        b.update(patient_claims=0, patient_cents=0)
    days = "($2::date - coalesce(s.first_at, cl.state_since)::date)"
    ins = await conn.fetch(
        f"SELECT {_BUCKET_SQL.format(d=days)} AS bucket, count(*) AS claims,"
        " coalesce(sum(greatest(coalesce(cl.total_charge_cents, 0) - cl.paid_cents"
        "   - cl.adjusted_cents, 0)), 0)::bigint AS cents"
        f" FROM {c}.claim_v1 cl LEFT JOIN LATERAL (SELECT min(submitted_at) AS first_at"
        f"   FROM {c}.claim_submission_v1 WHERE claim_id = cl.claim_id) s ON true"
        " WHERE cl.tenant = $1 AND cl.state IN ('SUBMITTED', 'ACCEPTED')"
        " GROUP BY 1",
        tenant,
        as_of,
    )
    for r in ins:
        buckets[r["bucket"]]["insurance_claims"] = int(r["claims"])
        buckets[r["bucket"]]["insurance_cents"] = int(r["cents"])
    credit = 0
    s = g.statements_schema
    patient_source = False
    if await _exists(conn, f"{s}.ledger_v1") and await _exists(conn, f"{s}.claim_charge_v1"):
        patient_source = True
        pdays = "($2::date - coalesce(ch.first_billed_on, $2::date))"
        pat = await conn.fetch(
            f"SELECT {_BUCKET_SQL.format(d=pdays)} AS bucket, count(*) AS claims,"
            " sum(b.balance)::bigint AS cents"
            f" FROM {s}.claim_charge_v1 ch JOIN (SELECT claim_id, sum(amount_cents) AS balance"
            f"   FROM {s}.ledger_v1 WHERE tenant = $1 AND claim_id IS NOT NULL GROUP BY claim_id)"
            "   b ON b.claim_id = ch.claim_id"
            " WHERE ch.tenant = $1 AND ch.insurance_final AND b.balance > 0"
            " GROUP BY 1",
            tenant,
            as_of,
        )
        for r in pat:
            buckets[r["bucket"]]["patient_claims"] = int(r["claims"])
            buckets[r["bucket"]]["patient_cents"] = int(r["cents"])
        credit = int(
            await conn.fetchval(
                "SELECT coalesce(-sum(least(u, 0)), 0)::bigint FROM (SELECT sum(amount_cents) AS u"
                f"  FROM {s}.ledger_v1 WHERE tenant = $1 AND claim_id IS NULL"
                "  GROUP BY guarantor_id) x",
                tenant,
            )
        )
    rows = [{"bucket": b, **v} for b, v in buckets.items()]
    return {
        "as_of": as_of.isoformat(),
        "buckets": rows,
        "insurance_cents": sum(r["insurance_cents"] for r in rows),
        "insurance_claims": sum(r["insurance_claims"] for r in rows),
        "patient_cents": sum(r["patient_cents"] for r in rows),
        "patient_claims": sum(r["patient_claims"] for r in rows),
        "patient_credit_cents": credit,
        "patient_source": patient_source,
    }
