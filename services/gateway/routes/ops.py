"""Ops routes: lag, funnel, denials, A/R aging, the dashboard, and /metrics.

Who may look: an API key with the ``ops`` scope (or ``admin``), as a bearer token or
the dashboard's session cookie (services/gateway/ops_sessions.py). These routes answer
counts and sums only, never patient data, so an ops team's key needs no ``read`` scope
(which opens claims and their PHI). Funnel, denials and aging are the key's tenant's;
consumer lag is the platform's (Kafka consumer groups are shared by every tenant).
``GET /metrics`` takes the ops token (RCM_OPS_TOKEN) like every service's /metrics.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import generate_latest
from starlette.exceptions import HTTPException

from runtime import lag as kafka_lag
from runtime.service import authorized
from services.gateway import live_kpis, ops_queries
from services.gateway.core import Gateway, Unavailable
from services.gateway.denials import denied
from services.gateway.deps import Config, Guard, Gw, RcmSettings
from services.gateway.errors import ERRORS, Json, RateLimited
from services.gateway.keys import Principal, bearer
from services.gateway.keys import Scope as KeyScope
from services.gateway.ops_cache import OpsTools
from services.gateway.ops_models import Aging, Denials, Funnel, LagRow, LiveKpis
from services.gateway.ops_sessions import (
    COOKIE,
    SECURITY_HEADERS,
    NeedsLogin,
    csp,
    https,
    session_principal,
    wants_html,
    with_csrf,
)

DASHBOARD = Path(__file__).parent.parent / "dashboard.html"

router = APIRouter(tags=["ops"], responses={**ERRORS})
metrics_router = APIRouter()

_security = HTTPBearer(auto_error=False, description="An API key with the ops scope")


async def _tools(request: Request) -> OpsTools:
    tools: OpsTools = request.app.state.ops
    return tools


Tools = Annotated[OpsTools, Depends(_tools)]


async def ops_key(
    request: Request,
    gw: Gw,
    guard: Guard,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_security)],
) -> Principal:
    """The caller's key, from the bearer token or the session cookie, with scope ops."""
    token = bearer(f"{creds.scheme} {creds.credentials}") if creds else None
    p: Principal | None
    if token is not None:
        p = await guard.check(request, token, lambda: gw.guarded(lambda: gw.principal(token)))
    else:
        cookie = request.cookies.get(COOKIE)
        if not cookie or len(cookie) > 100:
            await denied(gw, request, 401, "missing bearer token or session")
            if wants_html(request):
                raise NeedsLogin()
            raise HTTPException(401, "missing bearer token or session")
        p = await guard.check(
            request,
            cookie,
            lambda: gw.guarded(lambda: session_principal(gw, cookie)),
            kind="session",
        )
    if p is None:
        await denied(gw, request, 401, "unknown or revoked API key, or the session ended")
        if wants_html(request):
            raise NeedsLogin()
        raise HTTPException(401, "unknown or revoked API key, or the session ended")
    if not p.allows(KeyScope.ops):
        await denied(gw, request, 403, "needs scope ops", p)
        raise HTTPException(403, "the key needs scope ops")
    wait = gw.rate.allow(p.key_id, p.rate_per_s)
    if wait:
        raise RateLimited(wait)
    return p


OpsKey = Annotated[Principal, Depends(ops_key)]


async def _read(gw: Gateway, fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        assert gw.pool is not None
        # One snapshot: the figures of one answer agree with each other.
        async with (
            gw.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await fn(conn)

    return await gw.guarded(run)


@router.get(
    "/v1/ops/lag",
    response_model=list[LagRow],
    summary="Consumer lag per group, topic and partition (messages and seconds)",
    description="Lag = end offset - committed offset; lag_seconds = age of the oldest"
    " unconsumed message (0 when caught up). Every consumer group of the platform"
    " (prefix RCM_GATEWAY_OPS_LAG_GROUP_PREFIX); read at most every ops_cache_s"
    " (RCM_GATEWAY_OPS_CACHE_S) seconds.",
)
async def get_lag(p: OpsKey, tools: Tools) -> JSONResponse:
    rows = await tools.lags.get()
    return Json(
        [
            {
                "group": r.group,
                "topic": r.topic,
                "partition": r.partition,
                "lag": r.lag,
                "lag_seconds": r.lag_seconds,
            }
            for r in rows
        ]
    )


@router.get(
    "/v1/ops/funnel",
    response_model=Funnel,
    summary="Claims per saga state, claims stuck over their state's limit, throughput",
    description="Stuck claims carry their claim_id only for a key that also has the read"
    " (or admin) scope; null for ops alone. Stuck: in a state longer than its limit (RCM_GATEWAY_OPS_STUCK_LIMITS,"
    " STATE:SECONDS; the defaults suit the demo's compressed time). Throughput:"
    " transitions into each state per minute over the last"
    " RCM_GATEWAY_OPS_THROUGHPUT_MINUTES minutes.",
)
async def get_funnel(p: OpsKey, gw: Gw, g: Config, tools: Tools) -> JSONResponse:
    minutes = g.ops_throughput_minutes
    body = await tools.answers.get(
        ("funnel", p.tenant),
        lambda: _read(gw, lambda c: ops_queries.funnel(c, g, p.tenant, minutes=minutes)),
    )
    if not p.allows(KeyScope.read):
        # Ops sees how many claims are stuck and for how long, not which: a claim id opens
        # a patient's record to whoever holds a read key.
        body = {**body, "stuck": [{**c, "claim_id": None} for c in body["stuck"]]}
    return Json(body)


@router.get(
    "/v1/ops/denials",
    response_model=Denials,
    summary="Denied amounts by CAS group and reason code (CARC)",
)
async def get_denials(
    p: OpsKey,
    gw: Gw,
    g: Config,
    tools: Tools,
    days: Annotated[int, Query(ge=1, le=3650, description="Look back")] = 30,
) -> JSONResponse:
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
    body = await tools.answers.get(
        ("denials", p.tenant, since),
        lambda: _read(gw, lambda c: ops_queries.denials(c, g, p.tenant, since=since)),
    )
    return Json({**body, "days": days})


@router.get(
    "/v1/ops/aging",
    response_model=Aging,
    summary="A/R aging: insurance (claims with the payer) and patient balances, in cents",
)
async def get_aging(
    p: OpsKey, gw: Gw, g: Config, tools: Tools, as_of: dt.date | None = None
) -> JSONResponse:
    day = as_of or dt.datetime.now(dt.UTC).date()
    body = await tools.answers.get(
        ("aging", p.tenant, day),
        lambda: _read(gw, lambda c: ops_queries.aging(c, g, p.tenant, as_of=day)),
    )
    return Json(body)


@router.get(
    "/v1/ops/kpis/live",
    response_model=LiveKpis,
    responses={**ERRORS},
    summary="Live KPIs per hour or day from the claim events (the reporting service)",
    description="Claims submitted, first-pass acceptance (claims whose first clearinghouse"
    " verdict, a 999 rejection or a 277CA, accepted them), rejections, payer decisions,"
    " denials and denial rate by CARC and payer, payments and patient responsibility,"
    " in windows of the events' own time (Kafka timestamps), oldest first, with their"
    " total. Rates are decimal strings with 4 places (null when nothing to divide by).",
)
async def get_live_kpis(
    p: OpsKey,
    s: RcmSettings,
    g: Config,
    tools: Tools,
    window: Annotated[str, Query(pattern="^(hour|day)$")] = "hour",
    last: Annotated[int, Query(ge=1, le=744, description="How many windows")] = 24,
) -> JSONResponse:
    body = await tools.answers.get(
        ("live", p.tenant, window, last),
        lambda: live_kpis.live_kpis(s, g, p.tenant, window, last),
    )
    return Json(body)


@router.get(
    "/v1/ops/dashboard",
    response_class=HTMLResponse,
    summary="The ops dashboard (HTML)",
)
async def get_dashboard(request: Request, p: OpsKey, g: Config) -> Response:
    nonce = secrets.token_urlsafe(16)
    csrf = secrets.token_urlsafe(32)  # the sign-out form's (ops_sessions.csrf_ok)
    settings_js = orjson.dumps(
        {
            "tenant": p.tenant,
            "pollSeconds": 5,
            "windowMinutes": 10,
            "throughputMinutes": g.ops_throughput_minutes,
        }
    ).decode()
    html = (
        DASHBOARD.read_text()
        .replace("{{NONCE}}", nonce)
        .replace("{{CSRF}}", csrf)
        .replace("{{SETTINGS}}", settings_js.replace("<", "\\u003c"))
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp(nonce)}
    return with_csrf(HTMLResponse(html, headers=headers), csrf, https(request))


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, s: RcmSettings, tools: Tools) -> Response:
    if not authorized(request.headers, s):
        return Json(
            {"error": "missing or bad bearer token (the ops token)", "errors": []},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    text = generate_latest(tools.registry).decode()
    try:
        text += kafka_lag.prometheus(await tools.lags.get())
    except Unavailable:
        text += "# consumer lag unavailable: Kafka did not answer\n"
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
