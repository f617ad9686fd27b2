"""The practice's figures at a glance (/app/kpis): the KPIs of GET /v1/kpis and the A/R
aging of the ops dashboard, as bars drawn server-side in inline SVG with their numbers in
a table beside them (a chart a screen reader reads too), and the days in A/R of each of
the last ``trend_days`` days as a line (``ar_trend``: total A/R / average daily charges
over the page's ``days``); the days in A/R in the header are the line's last point."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.gateway import ar_trend, ops_queries, queries
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw
from services.gateway.users import Right
from services.gateway.web import Person, need, render

router = APIRouter(include_in_schema=False)
RATES = (
    ("clean_claim_rate", "Clean claims"),
    ("first_pass_resolution_rate", "Paid on first submission"),
    ("denial_rate", "Denied by the payer"),
    ("net_collection_rate", "Net collection"),
)


def bars(items: list[tuple[str, float]], unit: str) -> dict[str, Any]:
    """Bars scaled to the largest one: label, value as shown, width in per cent."""
    top = max((v for _, v in items), default=0.0) or 1.0
    return {
        "rows": [
            {"label": label, "width": round(100 * v / top, 1), "value": f"{v:,.1f}{unit}"}
            for label, v in items
        ],
        "height": 28 * len(items) + 4,
    }


def _pct(rate: str | None) -> float:
    return float(Decimal(rate) * 100) if rate is not None else 0.0


@router.get("/app/kpis")
async def kpis_page(
    request: Request,
    gw: Gw,
    g: Config,
    user: Person,
    days: Annotated[int, Query(ge=1, le=730)] = 90,
    trend_days: Annotated[int, Query(ge=2, le=365)] = 30,
) -> Response:
    await need(gw, user, Right.kpis, "app:kpis")
    today = dt.datetime.now(dt.UTC).date()

    async def run() -> tuple[dict[str, Any], dict[str, Any], Any]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            k = await queries.kpis(
                conn, g, user.tenant, today - dt.timedelta(days=days), today, today
            )
            aging = await ops_queries.aging(conn, g, user.tenant, as_of=today)
            return k, aging, await ar_trend.daily(conn, g, user.tenant, today)

    k, aging, ledger = await gw.guarded(run)
    trend = ar_trend.trend(ledger, today, trend_days, days) if ledger is not None else []
    await gw.audit(AuditEntry(user.tenant, user.actor, "app.kpis", "kpis", detail=f"{days} days"))
    rates = bars([(label, _pct(k[key])) for key, label in RATES], " %")
    carcs = bars([(f"CARC {r['carc']}", _pct(r["rate"])) for r in k["denial_rate_by_carc"]], " %")
    buckets = bars(
        [
            (b["bucket"], (b["insurance_cents"] + b["patient_cents"]) / 100)
            for b in aging["buckets"]
        ],
        "",
    )
    return render(
        request, "kpis.html", user=user, k=k, days=days, rates=rates, carcs=carcs,
        buckets=buckets, aging=aging, trend=trend, trend_days=trend_days,
        line=ar_trend.chart(trend) if trend else None,
    )  # fmt: skip
