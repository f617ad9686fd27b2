"""The billing office's pages (/login, /app/): templates, the signed-in person, CSRF, rights.

- The session cookie (``rcm_session``) is HttpOnly, SameSite=Strict, and Secure unless
  the gateway is reached over plain http on a loopback address outside production.
- Every form of a signed-in page carries a CSRF token bound to the session (an HMAC of
  the session token, so another tab's form stays valid); the sign-in form, before there
  is a session, uses the double-submit cookie of the ops sign-in
  (``ops_sessions.csrf_ok``). A browser that says a request is cross-site is refused.
- A page asked for without a live session (none, ended, expired, idle) answers 303 to
  ``/login?next=<where the person was>``; the sign-in sends them back there.
- A right the person's role lacks answers 403 and writes a refused audit row under the
  person's id; another tenant's object answers 404 (every query filters by tenant).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.config import GatewaySettings
from services.gateway.core import AuditEntry, Gateway
from services.gateway.hardening import AuthGuard
from services.gateway.ops_sessions import SECURITY_HEADERS, https
from services.gateway.users import Right, User, session_user

SESSION = "rcm_session"
LOGIN_CSRF = "rcm_login_csrf"
TEMPLATES = Path(__file__).parent / "templates"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'nonce-{nonce}';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def money(cents: int | None) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{part:02d}"


def when(value: object) -> str:
    """An ISO time as a person reads it: '2026-12-07 20:24 UTC'."""
    if value is None or value == "":
        return ""
    try:
        at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


env.filters["money"] = money
env.filters["when"] = when


def render(
    request: Request, template: str, status: int = 200, *, user: User | None = None, **ctx: Any
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    token = request.cookies.get(SESSION, "")
    body = env.get_template(template).render(
        nonce=nonce,
        user=user,
        csrf=session_csrf(token) if user else "",
        path=request.url.path,
        Right=Right,
        **ctx,
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": CSP.format(nonce=nonce)}
    return HTMLResponse(body, status_code=status, headers=headers)


def secure(request: Request, g: GatewaySettings) -> bool:
    """The cookies' Secure flag: off only for plain http to loopback outside production."""
    if https(request) or g.env == "production":
        return True
    return (request.url.hostname or "") not in LOOPBACK


def session_csrf(token: str) -> str:
    mac = hmac.new(token.encode(), b"rcm-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_ok(request: Request, sent: str) -> bool:
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    token = request.cookies.get(SESSION, "")
    return bool(token) and hmac.compare_digest(session_csrf(token), sent[:100])


NEXT = re.compile(r"^/app/[\x21-\x7e]{0,495}$")


def safe_next(target: str) -> str:
    """Only a path of this gateway's pages (printable, no spaces, no backslash); anything
    else goes home."""
    if NEXT.match(target) and "\\" not in target:
        return target
    return "/app/"


class SignInFirst(Exception):
    def __init__(self, target: str, stale: bool) -> None:
        self.target = target
        self.stale = stale


class PageError(Exception):
    """A page's refusal, shown in words: 403, 404, 409."""

    def __init__(self, status: int, message: str, user: User | None = None) -> None:
        self.status = status
        self.message = message
        self.user = user


async def on_sign_in_first(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInFirst)
    query = {"next": exc.target}
    if exc.stale:
        query["why"] = "idle"
    url = "/login?" + urllib.parse.urlencode(query)
    out = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    if request.headers.get("hx-request"):
        out.headers["HX-Redirect"] = url
    if exc.stale:
        out.delete_cookie(SESSION, path="/")
    return out


async def on_page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(request, "error.html", exc.status, user=exc.user, message=exc.message)


async def signed_in(request: Request) -> User:
    """The person whose live session the request carries, else to the sign-in page."""
    gw: Gateway = request.app.state.gateway
    g: GatewaySettings = request.app.state.config
    guard: AuthGuard = request.app.state.auth
    token = request.cookies.get(SESSION, "")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = request.headers.get("referer", "") or request.url.path
        target = urllib.parse.urlsplit(target).path
    if not token:
        raise SignInFirst(safe_next(target), stale=False)

    async def lookup() -> User | None:
        assert gw.pool is not None
        pool = gw.pool
        found: User | None = await gw.guarded(lambda: session_user(pool, token, g.idle_s))
        return found

    user = await guard.check(request, token, lookup, kind="session")
    if user is None:
        raise SignInFirst(safe_next(target), stale=True)
    return user


Person = Annotated[User, Depends(signed_in)]


async def need(gw: Gateway, user: User, right: Right, resource: str) -> None:
    """403 and a refused audit row when the person's role lacks ``right``."""
    if user.may(right):
        return
    await gw.audit(
        AuditEntry(
            user.tenant,
            user.actor,
            f"app.{right.value}",
            resource,
            outcome="denied:403",
            detail=f"role {user.role.value} lacks the right {right.value}",
        )
    )
    raise PageError(
        403, f"Your role ({user.role.value}) may not do this: it needs {right.value}.", user
    )
