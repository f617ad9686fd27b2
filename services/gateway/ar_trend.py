"""Days in A/R, day by day (the figures page's trend line), from statements' patient
ledger (``ledger_v1``: every claim's charge, the payers' payments and contractual
adjustments, the patients' payments, write-offs and refunds, each at the time it posted).

Days in A/R at the end of a day = total A/R then (the ledger's balance: everything posted
up to the end of that day) / average daily charges (the charges posted in the ``period``
days up to that day, divided by ``period``). A day with no charge in its period has no
figure. Days are UTC days. This is the one definition of days in A/R: the figures page's
header is the trend's last point, and GET /v1/kpis's ``days_in_ar`` the point of its
``as_of`` over 90 days (``at_end_of``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from services.gateway.config import GatewaySettings

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 48, 28, 12


@dataclass(frozen=True, slots=True)
class Day:
    day: dt.date
    ar_cents: int
    charges_cents: int  # posted in the period ending this day
    days_in_ar: Decimal | None


async def daily(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, last: dt.date
) -> list[tuple[dt.date, int, int]] | None:
    """(day, net posted, charges posted) per UTC day up to ``last``; None without
    statements beside this gateway."""
    s = g.statements_schema
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{s}.ledger_v1"):
        return None
    rows = await conn.fetch(
        "SELECT (at AT TIME ZONE 'UTC')::date AS day, sum(amount_cents)::bigint AS net,"
        " coalesce(sum(amount_cents) FILTER (WHERE kind = 'charge'), 0)::bigint AS charged"
        f" FROM {s}.ledger_v1 WHERE tenant = $1 AND at < ($2::date + 1)::timestamp AT TIME ZONE"
        " 'UTC' GROUP BY 1 ORDER BY 1",
        tenant,
        last,
    )
    return [(r["day"], int(r["net"]), int(r["charged"])) for r in rows]


def trend(
    rows: Sequence[tuple[dt.date, int, int]], last: dt.date, points: int, period: int
) -> list[Day]:
    """Days in A/R at the end of each of the ``points`` days up to ``last``."""
    first = last - dt.timedelta(days=points - 1)
    ar = sum(net for day, net, _ in rows if day < first)
    charged = {day: c for day, _, c in rows}
    net_on = {day: net for day, net, _ in rows}
    out = []
    for i in range(points):
        day = first + dt.timedelta(days=i)
        ar += net_on.get(day, 0)
        window = sum(charged.get(day - dt.timedelta(days=k), 0) for k in range(period))
        figure = None
        if window > 0:
            figure = (Decimal(ar) * period / Decimal(window)).quantize(Decimal("0.1"))
        out.append(Day(day, ar, window, figure))
    return out


async def at_end_of(
    conn: asyncpg.Connection, g: GatewaySettings, tenant: str, day: dt.date, period: int
) -> Day | None:
    """Days in A/R at the end of ``day`` over ``period`` days (the trend's point for that
    day: what GET /v1/kpis answers); None without statements beside this gateway."""
    rows = await daily(conn, g, tenant, day)
    return None if rows is None else trend(rows, day, 1, period)[-1]


def chart(days: Sequence[Day]) -> dict[str, object]:
    """The line's points in an SVG of WIDTH x HEIGHT, the y axis from 0 to the largest
    figure (rounded up to 10), and the labels of the first and last day."""
    known = [d.days_in_ar for d in days if d.days_in_ar is not None]
    top = max((float(x) for x in known), default=0.0)
    top = max(10.0, -(-top // 10) * 10)
    span = max(1, len(days) - 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    segments: list[list[tuple[float, float]]] = [[]]
    for i, d in enumerate(days):
        if d.days_in_ar is None:
            segments.append([])
            continue
        x = LEFT + plot_w * i / span
        y = TOP + plot_h * (1 - max(0.0, float(d.days_in_ar)) / top)
        segments[-1].append((round(x, 1), round(y, 1)))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "right": WIDTH - 8,
        "ymax": int(top),
        "ymid": int(top / 2),
        "ymid_y": TOP + plot_h / 2,
        "lines": [" ".join(f"{x},{y}" for x, y in s) for s in segments if len(s) > 1],
        "dots": [p for s in segments if len(s) == 1 for p in s],
        "first": days[0].day.isoformat() if days else "",
        "last": days[-1].day.isoformat() if days else "",
    }
