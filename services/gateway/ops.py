"""Ops routes of the gateway: lag, funnel, denials, A/R aging, /metrics and the dashboard.

Who may look: an API key with the ``ops`` scope (or ``admin``). These routes answer
counts and sums only, never patient data, so an ops team's key needs no ``read`` scope
(which opens claims and their PHI). Funnel, denials and aging are the key's tenant's;
consumer lag is the platform's (Kafka consumer groups are shared by every tenant).

The dashboard in a browser: a bookmark cannot carry an Authorization header, so
``POST /v1/ops/login`` with the API key (the sign-in form) opens a session: a random
256-bit token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS) valid for
``/v1/ops`` only, stored as its sha256, ending at its expiry, at logout or when the key
is revoked. For scripts and tests, ``POST /v1/ops/tickets`` (bearer) gives a one-time
login link valid for a minute; following it opens a session and the link is spent, so
it is worthless in a browser history or a proxy log. No long-lived secret ever travels
in a URL.

``GET /metrics`` takes the ops token (RCM_OPS_TOKEN) like every service's /metrics.
"""

import asyncio
import datetime as dt
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import lag as kafka_lag
from runtime.service import authorized
from runtime.settings import Settings
from services.gateway import ops_queries
from services.gateway.config import GatewaySettings
from services.gateway.core import AuditEntry, Gateway, Unavailable
from services.gateway.keys import Principal, bearer, token_hash
from services.gateway.keys import Scope as KeyScope

COOKIE = "rcm_ops_session"
COOKIE_PATH = "/v1/ops"
DASHBOARD = Path(__file__).with_name("dashboard.html")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# --- request metrics ------------------------------------------------------------------


class RequestMetrics:
    """rcm_http_requests_total and rcm_http_request_seconds, by route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "rcm_http_requests",
            "HTTP requests answered by the gateway",
            ["method", "route", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "rcm_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # Labelled children, looked up once each (labels() takes a lock every call).
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._times: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            # The template, never the raw path: claim ids must not become label values.
            name = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            if method not in METHODS:
                method = "OTHER"  # label values stay few whatever clients send
            counter = self._counts.get((method, name, status))
            if counter is None:
                counter = self.requests.labels(method, name, str(status))
                self._counts[(method, name, status)] = counter
            timer = self._times.get((method, name))
            if timer is None:
                timer = self.seconds.labels(method, name)
                self._times[(method, name)] = timer
            counter.inc()
            timer.observe(time.perf_counter() - start)


# --- caches -----------------------------------------------------------------------------


class LagCache:
    """One lag read at a time, its answer reused for ``ttl`` seconds."""

    def __init__(self, s: Settings, g: GatewaySettings) -> None:
        self.s = s
        self.g = g
        self.rows: list[kafka_lag.Lag] | None = None
        self.at = 0.0
        self.lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self.rows is not None and time.monotonic() - self.at < self.g.ops_cache_s

    async def get(self) -> list[kafka_lag.Lag]:
        if self._fresh():
            assert self.rows is not None
            return self.rows
        async with self.lock:
            if self._fresh():
                assert self.rows is not None
                return self.rows
            try:
                rows = await asyncio.wait_for(
                    kafka_lag.collect(self.s, prefix=self.g.ops_lag_group_prefix),
                    timeout=self.g.ops_lag_timeout_s,
                )
            except Exception as exc:
                raise Unavailable("Kafka did not answer the lag read") from exc
            self.rows, self.at = rows, time.monotonic()
            return rows


class TtlCache:
    """Answers per (route, tenant, parameters), reused for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.items: dict[tuple[Any, ...], tuple[float, Any]] = {}

    async def get(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        hit = self.items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = await make()
        if len(self.items) > 1000:
            self.items.clear()
        self.items[key] = (now, value)
        return value


# --- sessions -----------------------------------------------------------------------------


async def _session_principal(gw: Gateway, token: str) -> Principal | None:
    assert gw.pool is not None
    row = await gw.pool.fetchrow(
        "SELECT k.key_id, k.tenant, k.scopes, k.rate_per_s FROM ops_sessions s"
        " JOIN api_keys k ON k.key_id = s.key_id"
        " WHERE s.token_hash = $1 AND s.kind = 'session' AND s.expires_at > now()"
        "   AND k.revoked_at IS NULL",
        token_hash(token),
    )
    if row is None:
        return None
    return Principal(row["key_id"], row["tenant"], frozenset(row["scopes"]), row["rate_per_s"])


async def _new_token(gw: Gateway, kind: str, key_id: str, seconds: int) -> str:
    assert gw.pool is not None
    token = secrets.token_urlsafe(32)
    await gw.pool.execute(
        "INSERT INTO ops_sessions(token_hash, kind, key_id, expires_at)"
        " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
        token_hash(token),
        kind,
        key_id,
        seconds,
    )
    return token


async def _spend_ticket(gw: Gateway, ticket: str) -> Principal | None:
    assert gw.pool is not None
    async with gw.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM ops_sessions WHERE expires_at < now()")
        row = await conn.fetchrow(
            "WITH t AS (DELETE FROM ops_sessions WHERE token_hash = $1 AND kind = 'ticket'"
            "   AND expires_at > now() RETURNING key_id)"
            " SELECT k.key_id, k.tenant, k.scopes, k.rate_per_s FROM t"
            " JOIN api_keys k ON k.key_id = t.key_id WHERE k.revoked_at IS NULL",
            token_hash(ticket),
        )
    if row is None:
        return None
    return Principal(row["key_id"], row["tenant"], frozenset(row["scopes"]), row["rate_per_s"])


def _secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def login_page(message: str = "", status: int = 401) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    note = f"<p class='err'>{_escape(message)}</p>" if message else ""
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>RCM ops · sign in</title>"
        f"<style nonce='{nonce}'>"
        "body{font:15px/1.5 system-ui,sans-serif;background:#0f172a;color:#e2e8f0;"
        "display:grid;place-items:center;height:100vh;margin:0}"
        "form{background:#1e293b;padding:28px 32px;border-radius:12px;width:360px}"
        "h1{font-size:18px;margin:0 0 6px}p{color:#94a3b8;font-size:13px}"
        "input{width:100%;box-sizing:border-box;padding:9px;border-radius:6px;border:1px solid"
        " #334155;background:#0f172a;color:#e2e8f0;margin:8px 0 14px}"
        "button{background:#38bdf8;color:#0f172a;border:0;border-radius:6px;padding:9px 16px;"
        "font-weight:600;cursor:pointer}.err{color:#fca5a5}</style></head><body>"
        "<form method='post' action='/v1/ops/login'><h1>RCM pipeline · operations</h1>"
        "<p>Sign in with an API key that has the <b>ops</b> scope"
        " (<code>rcm keys create --scopes ops</code>).</p>"
        f"{note}<label for='k'>API key</label>"
        "<input id='k' name='api_key' type='password' autocomplete='off' required>"
        "<button type='submit'>Open the dashboard</button></form></body></html>"
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": _csp(nonce)}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return HTMLResponse(body, status_code=status, headers=headers)


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )


class NeedsLogin(Exception):
    """No credentials on a browser's request: answer with the sign-in form."""


# --- routes -------------------------------------------------------------------------------


def install(
    app: FastAPI,
    gw: Gateway,
    s: Settings,
    g: GatewaySettings,
    rate_limited: Callable[[float], Exception],
) -> None:
    """Adds the ops routes, /metrics and request metrics to the gateway app."""
    registry = CollectorRegistry()
    app.add_middleware(RequestMetrics, registry=registry)
    lags = LagCache(s, g)
    cache = TtlCache(g.ops_cache_s)
    security = HTTPBearer(auto_error=False, description="An API key with the ops scope")

    async def ops_key(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(security)],
    ) -> Principal:
        token = bearer(f"{creds.scheme} {creds.credentials}") if creds else None
        p: Principal | None
        if token is not None:
            p = await gw.guarded(lambda: gw.principal(token))
        else:
            cookie = request.cookies.get(COOKIE)
            if not cookie or len(cookie) > 100:
                if _wants_html(request):
                    raise NeedsLogin()
                raise HTTPException(401, "missing bearer token or session")
            p = await gw.guarded(lambda: _session_principal(gw, cookie))
        if p is None:
            if _wants_html(request):
                raise NeedsLogin()
            raise HTTPException(401, "unknown or revoked API key, or the session ended")
        if not p.allows(KeyScope.ops):
            raise HTTPException(403, "the key needs scope ops")
        wait = gw.rate.allow(p.key_id, p.rate_per_s)
        if wait:
            raise rate_limited(wait)
        return p

    Ops = Annotated[Principal, Depends(ops_key)]

    @app.exception_handler(NeedsLogin)
    async def on_login(request: Request, exc: NeedsLogin) -> HTMLResponse:
        return login_page()

    async def read(fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        async def run() -> Any:
            assert gw.pool is not None
            # One snapshot: the figures of one answer agree with each other.
            async with (
                gw.pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                return await fn(conn)

        return await gw.guarded(run)

    @app.get(
        "/v1/ops/lag",
        summary="Consumer lag per group, topic and partition (messages and seconds)",
        description="Lag = end offset - committed offset; lag_seconds = age of the oldest"
        " unconsumed message (0 when caught up). Every consumer group of the platform"
        f" (prefix RCM_GATEWAY_OPS_LAG_GROUP_PREFIX); read at most every ops_cache_s"
        f" ({g.ops_cache_s:g} s by default).",
        tags=["ops"],
    )
    async def get_lag(p: Ops) -> JSONResponse:
        rows = await lags.get()
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

    @app.get(
        "/v1/ops/funnel",
        summary="Claims per saga state, claims stuck over their state's limit, throughput",
        description="Stuck: in a state longer than its limit (RCM_GATEWAY_OPS_STUCK_LIMITS,"
        " STATE:SECONDS; the defaults suit the demo's compressed time). Throughput:"
        " transitions into each state per minute over the last"
        " RCM_GATEWAY_OPS_THROUGHPUT_MINUTES minutes.",
        tags=["ops"],
    )
    async def get_funnel(p: Ops) -> JSONResponse:
        minutes = g.ops_throughput_minutes
        body = await cache.get(
            ("funnel", p.tenant),
            lambda: read(lambda c: ops_queries.funnel(c, g, p.tenant, minutes=minutes)),
        )
        return Json(body)

    @app.get(
        "/v1/ops/denials",
        summary="Denied amounts by CAS group and reason code (CARC)",
        tags=["ops"],
    )
    async def get_denials(
        p: Ops, days: Annotated[int, Query(ge=1, le=3650, description="Look back")] = 30
    ) -> JSONResponse:
        since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
        body = await cache.get(
            ("denials", p.tenant, since),
            lambda: read(lambda c: ops_queries.denials(c, g, p.tenant, since=since)),
        )
        return Json({**body, "days": days})

    @app.get(
        "/v1/ops/aging",
        summary="A/R aging: insurance (claims with the payer) and patient balances, in cents",
        tags=["ops"],
    )
    async def get_aging(p: Ops, as_of: dt.date | None = None) -> JSONResponse:
        day = as_of or dt.datetime.now(dt.UTC).date()
        body = await cache.get(
            ("aging", p.tenant, day),
            lambda: read(lambda c: ops_queries.aging(c, g, p.tenant, as_of=day)),
        )
        return Json(body)

    @app.get("/v1/ops/dashboard", summary="The ops dashboard (HTML)", tags=["ops"])
    async def get_dashboard(p: Ops) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
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
            .replace("{{SETTINGS}}", settings_js.replace("<", "\\u003c"))
        )
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": _csp(nonce)}
        return HTMLResponse(html, headers=headers)

    @app.post(
        "/v1/ops/login",
        summary="Open a dashboard session with an API key (form field or JSON api_key)",
        tags=["ops"],
        status_code=303,
    )
    async def post_login(request: Request) -> Response:
        raw = await request.body()
        key = ""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = {}
            key = parsed.get("api_key", "") if isinstance(parsed, dict) else ""
        else:
            form = urllib.parse.parse_qs(raw.decode(errors="replace"), max_num_fields=5)
            key = (form.get("api_key") or [""])[0]
        token = bearer(f"Bearer {key}") if isinstance(key, str) else None
        p = await gw.guarded(lambda: gw.principal(token)) if token else None
        if p is None or not p.allows(KeyScope.ops):
            return login_page("That key is unknown, revoked, or lacks the ops scope.")
        return await _open_session(request, p)

    @app.get("/v1/ops/login", summary="Follow a one-time login link", tags=["ops"])
    async def get_login(
        request: Request, ticket: Annotated[str | None, Query(max_length=100)] = None
    ) -> Response:
        if not ticket:
            return login_page()
        p = await gw.guarded(lambda: _spend_ticket(gw, ticket))
        if p is None or not p.allows(KeyScope.ops):
            return login_page("That login link is spent or has expired.")
        return await _open_session(request, p)

    async def _open_session(request: Request, p: Principal) -> Response:
        token = await gw.guarded(lambda: _new_token(gw, "session", p.key_id, g.ops_session_s))
        await gw.audit(AuditEntry(p.tenant, p.key_id, "ops.login", "dashboard"))
        out = RedirectResponse("/v1/ops/dashboard", status_code=303, headers=SECURITY_HEADERS)
        out.set_cookie(
            COOKIE,
            token,
            max_age=g.ops_session_s,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
        return out

    @app.post(
        "/v1/ops/tickets",
        summary="A one-time login link for the dashboard (valid ops_ticket_s seconds)",
        tags=["ops"],
    )
    async def post_ticket(p: Ops) -> JSONResponse:
        ticket = await gw.guarded(lambda: _new_token(gw, "ticket", p.key_id, g.ops_ticket_s))
        return Json(
            {"url": f"/v1/ops/login?ticket={ticket}", "expires_in": g.ops_ticket_s},
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/v1/ops/logout", summary="End the dashboard session", tags=["ops"])
    async def post_logout(request: Request) -> Response:
        cookie = request.cookies.get(COOKIE)
        if cookie and len(cookie) <= 100:
            assert gw.pool is not None
            await gw.guarded(
                lambda: gw.pool.execute(  # type: ignore[union-attr]
                    "DELETE FROM ops_sessions WHERE token_hash = $1", token_hash(cookie)
                )
            )
        out = login_page("Signed out.", status=200)
        out.delete_cookie(COOKIE, path=COOKIE_PATH)
        return out

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not authorized(request.headers, s):
            return Json(
                {"error": "missing or bad bearer token (the ops token)", "errors": []},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        text = generate_latest(registry).decode()
        try:
            text += kafka_lag.prometheus(await lags.get())
        except Unavailable:
            text += "# consumer lag unavailable: Kafka did not answer\n"
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
