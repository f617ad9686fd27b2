"""Dashboard sessions: the sign-in form, session cookies and one-time login links.

A bookmark cannot carry an Authorization header, so ``POST /v1/ops/login`` with the API
key (the sign-in form) opens a session: a random 256-bit token in an HttpOnly,
SameSite=Lax cookie (Secure over HTTPS) valid for ``/v1/ops`` only, stored as its
sha256, ending at its expiry, at logout or when the key is revoked. For scripts and
tests, ``POST /v1/ops/tickets`` (bearer) gives a one-time login link valid for a minute;
following it opens a session and the link is spent, so it is worthless in a browser
history or a proxy log. No long-lived secret ever travels in a URL. The sign-in and
sign-out forms carry a CSRF token (``csrf_ok``): another site can neither sign a browser
in to its own key nor sign it out.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from services.gateway.core import Gateway
from services.gateway.hardening import AuthGuard
from services.gateway.keys import Principal, token_hash

COOKIE = "rcm_ops_session"
COOKIE_PATH = "/v1/ops"
CSRF_COOKIE = "rcm_ops_csrf"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def session_principal(gw: Gateway, token: str) -> Principal | None:
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


async def new_token(gw: Gateway, kind: str, key_id: str, seconds: int) -> str:
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


async def spend_ticket(gw: Gateway, ticket: str) -> Principal | None:
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


def https(request: Request) -> bool:
    """Over https (the cookies' Secure flag): X-Forwarded-Proto counts from trusted proxies
    only (services/gateway/hardening.py)."""
    guard: AuthGuard = request.app.state.auth
    return guard.proxies.https(request)


def csrf_ok(request: Request, sent: str, cookie_name: str = CSRF_COOKIE) -> bool:
    """A cookie-authenticated form's double-submit token: the form field must equal the
    SameSite=Strict cookie set with the form, which another site can neither read nor set;
    and a browser saying the request is cross-site is refused outright."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    cookie = request.cookies.get(cookie_name, "")
    return bool(cookie) and len(cookie) <= 100 and hmac.compare_digest(cookie, sent)


def with_csrf(
    response: Response,
    token: str,
    secure: bool,
    cookie_name: str = CSRF_COOKIE,
    path: str = COOKIE_PATH,
) -> Response:
    response.set_cookie(
        cookie_name, token, path=path, httponly=True, samesite="strict", secure=secure
    )
    return response


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def login_page(message: str = "", status: int = 401, *, secure: bool = False) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    csrf = secrets.token_urlsafe(32)
    note = f"<p class='err'>{escape(message)}</p>" if message else ""
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
        f"<input type='hidden' name='csrf' value='{csrf}'>"
        "<button type='submit'>Open the dashboard</button></form></body></html>"
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp(nonce)}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    page = HTMLResponse(body, status_code=status, headers=headers)
    with_csrf(page, csrf, secure)
    return page


def csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )


class NeedsLogin(Exception):
    """No credentials on a browser's request: answer with the sign-in form."""


async def on_needs_login(request: Request, exc: Exception) -> HTMLResponse:
    return login_page(secure=https(request))


async def end_session(gw: Gateway, token: str) -> None:
    assert gw.pool is not None
    await gw.pool.execute("DELETE FROM ops_sessions WHERE token_hash = $1", token_hash(token))
