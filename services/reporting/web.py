"""Reporting's web view: GET /v1/kpis/live (ops token) and GET /healthz (open).

``/v1/kpis/live?tenant=T&window=hour|day&last=N`` answers the tenant's last N windows
(24 hours or 30 days by default), oldest first, each with its KPIs (services.reporting.
domain.kpis), and their total. Only sums are served: no claim, no patient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import faust

from runtime.ops_web import harden
from runtime.service import authorized
from runtime.settings import Settings
from services.reporting import domain
from services.reporting.handlers import KpiTables, split_key, sums_of
from services.reporting.watchdog import recovered

DEFAULT_LAST = {"hour": 24, "day": 30}
MAX_LAST = {"hour": 24 * 31, "day": 3650}


def window_sums(
    entries: Iterable[tuple[Any, Mapping[str, int]]], tenant: str, size: int, now: float, last: int
) -> dict[float, list[domain.Sum]]:
    """The tenant's sums per window start, for the ``last`` windows up to ``now``
    (entries: ``((key, (start, end)), fields)`` as a windowed table holds them)."""
    newest = now - now % size
    oldest = newest - (last - 1) * size
    out: dict[float, list[domain.Sum]] = {}
    for (key, (start, _end)), fields in entries:
        _partition, key_tenant, payer = split_key(key)
        if key_tenant != tenant or not oldest <= start <= newest:
            continue
        out.setdefault(float(start), []).extend(sums_of(payer, dict(fields)))
    return out


def report(
    sums: Mapping[float, list[domain.Sum]], tenant: str, window: str, size: int
) -> dict[str, Any]:
    def iso(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()

    return {
        "tenant": tenant,
        "window": window,
        "windows": [
            {"start": iso(start), "end": iso(start + size), **domain.kpis(sums[start])}
            for start in sorted(sums)
        ],
        "total": domain.kpis(s for group in sums.values() for s in group),
    }


def parse_query(query: Mapping[str, str]) -> tuple[str, str, int] | str:
    """(tenant, window, last), or the error to answer."""
    tenant = query.get("tenant", "")
    window = query.get("window", "hour")
    if not tenant:
        return "tenant is required"
    if window not in DEFAULT_LAST:
        return f"window must be hour or day, not {window!r}"
    raw = query.get("last", str(DEFAULT_LAST[window]))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LAST[window]:
        return f"last must be a whole number from 1 to {MAX_LAST[window]}"
    return tenant, window, int(raw)


def install(app: faust.App, tables: KpiTables, s: Settings, sizes: Mapping[str, int]) -> None:
    harden(app)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok = recovered(app)
        return web.json({"service": "reporting", "ok": ok}, status=200 if ok else 503)

    @app.page("/v1/kpis/live")
    async def live(web: Any, request: Any) -> Any:
        if not authorized(request.headers, s):
            return web.json({"error": "missing or bad bearer token"}, status=401)
        parsed = parse_query(request.query)
        if isinstance(parsed, str):
            return web.json({"error": parsed}, status=422)
        tenant, window, last = parsed
        table = tables.hour if window == "hour" else tables.day
        size = sizes[window]
        now = dt.datetime.now(dt.UTC).timestamp()
        sums = window_sums(table.table.data.items(), tenant, size, now, last)
        return web.json(report(sums, tenant, window, size))
