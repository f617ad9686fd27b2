"""The HTTP gateway: EHR intake (native JSON and FHIR R4), work queues, claims, KPIs, ops.

Every route but /healthz needs a bearer API key; every query is filtered by the key's
tenant. /openapi.json is published to authenticated callers. The routes live in
services/gateway/routes/ (one APIRouter per area) and reach the Gateway and the settings
through ``app.state`` (services/gateway/deps.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from runtime.settings import Settings, settings
from services.gateway.config import GatewaySettings, parse_proxies
from services.gateway.core import Gateway
from services.gateway.errors import BodyLimit, Json, add_handlers
from services.gateway.hardening import AuthGuard, Proxies, SecurityHeaders
from services.gateway.ops_cache import LagCache, OpsTools, TtlCache
from services.gateway.ops_sessions import NeedsLogin, on_needs_login
from services.gateway.request_metrics import RequestMetrics
from services.gateway.routes import (
    app_accounts,
    app_actions,
    app_claim_actions,
    app_files,
    app_frontdesk,
    app_kpis,
    app_ledger,
    app_login,
    app_pages,
    app_preview,
    appeals,
    claims,
    coverage,
    intake,
    kpis,
    ledger,
    meta,
    ops,
    ops_login,
    payers,
    payments,
    providers,
    statement_view,
    underpayments,
    workqueues,
    x12files,
)
from services.gateway.web import PageError, SignInFirst, on_page_error, on_sign_in_first

DESCRIPTION = """
The HTTP door of RCM Pipeline. Authenticate with `Authorization: Bearer <API key>`;
a key belongs to one tenant and carries scopes: `intake` (encounters, FHIR, payments),
`read` (claims, work queues, KPIs, the provider directory), `work` (fixes, payments), `ops` (lag, funnel,
denials, A/R aging and the dashboard under /v1/ops: counts and sums, no patient data),
`admin` (all). The dashboard (GET /v1/ops/dashboard) also takes the HttpOnly session
cookie that POST /v1/ops/login (the sign-in form) or a one-time link from
POST /v1/ops/tickets opens. GET /metrics takes the ops token (RCM_OPS_TOKEN).
A claim of another tenant answers 404. Writes answer 202 only after Kafka acknowledged
the event (acks=all); when Kafka or the database cannot take it, 503 with Retry-After.
Send `Idempotency-Key` on writes: a retry with the same key and body gets the first
answer and sends nothing new. Field errors answer 422 with paths and messages only.
Every read and write of patient data is written to a hash-chained audit log.
Every answer carries `Cache-Control: no-store`; failed authentications are limited per
client and per key (429 with Retry-After once over the limit).
"""


def create_app(s: Settings | None = None, g: GatewaySettings | None = None) -> FastAPI:
    s = s or settings()
    g = g or GatewaySettings()
    gw = Gateway(s, g)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    app = FastAPI(
        title="RCM Pipeline gateway",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=Json,
    )
    # What the routes' dependencies (services/gateway/deps.py) hand them.
    registry = CollectorRegistry()
    app.state.gateway = gw
    app.state.settings = s
    app.state.config = g
    app.state.ops = OpsTools(registry, LagCache(s, g), TtlCache(g.ops_cache_s))
    app.state.auth = AuthGuard(
        g.auth_fail_burst, g.auth_fail_per_minute, Proxies(parse_proxies(g.trusted_proxies))
    )

    # Outermost last: request metrics see every answer, 413s included; every answer,
    # 413s included, carries the security headers.
    app.add_middleware(BodyLimit, limit=g.max_body_bytes)
    app.add_middleware(RequestMetrics, registry=registry)
    app.add_middleware(SecurityHeaders)
    add_handlers(app, g.retry_after_s)
    app.add_exception_handler(NeedsLogin, on_needs_login)
    app.add_exception_handler(SignInFirst, on_sign_in_first)
    app.add_exception_handler(PageError, on_page_error)

    areas = (
        meta,
        intake,
        coverage,
        payments,
        ledger,
        payers,
        providers,
        workqueues,
        claims,
        kpis,
        x12files,
    )
    office = (
        app_login,
        app_pages,
        app_actions,
        app_preview,
        app_claim_actions,
        app_files,
        app_accounts,
        app_ledger,
        app_frontdesk,
        app_kpis,
    )  # /login, /app/
    for area in (*areas, ops, underpayments, appeals, ops_login, statement_view, *office):
        app.include_router(area.router)
    app.include_router(ops.metrics_router)
    return app
