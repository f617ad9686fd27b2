"""Signing in to the dashboard: the login form and links, tickets, logout
(services/gateway/ops_sessions.py says how sessions work)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.gateway import forms
from services.gateway.config import GatewaySettings
from services.gateway.core import AuditEntry, Gateway
from services.gateway.deps import Config, Guard, Gw
from services.gateway.errors import ERRORS, Json
from services.gateway.keys import Principal, bearer
from services.gateway.keys import Scope as KeyScope
from services.gateway.ops_models import Ticket
from services.gateway.ops_sessions import (
    COOKIE,
    COOKIE_PATH,
    SECURITY_HEADERS,
    csrf_ok,
    end_session,
    https,
    login_page,
    new_token,
    spend_ticket,
)
from services.gateway.routes.ops import OpsKey

router = APIRouter(tags=["ops"])

HTML = {"text/html": {"schema": {"type": "string"}}}
PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
SIGN_IN: dict[int | str, dict[str, Any]] = {
    303: {"description": "Session opened: to the dashboard, with the session cookie"},
    401: {"description": "The sign-in form, saying why", "content": HTML},
    403: {"description": "The form's CSRF token is missing or stale", "content": HTML},
    429: {"description": "Too many failed sign-ins; see Retry-After", "content": PROBLEM},
    422: {"description": "Field-level errors, no input values", "content": PROBLEM},
    503: {"description": "The database unavailable; see Retry-After", "content": PROBLEM},
}


async def _open_session(
    gw: Gateway, g: GatewaySettings, request: Request, p: Principal
) -> Response:
    token = await gw.guarded(lambda: new_token(gw, "session", p.key_id, g.ops_session_s))
    await gw.audit(AuditEntry(p.tenant, p.key_id, "ops.login", "dashboard"))
    out = RedirectResponse("/v1/ops/dashboard", status_code=303, headers=SECURITY_HEADERS)
    out.set_cookie(
        COOKIE,
        token,
        max_age=g.ops_session_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=https(request),
    )
    return out


def _api_key(raw: bytes, content_type: str) -> tuple[str, str | None]:
    """The api_key field of a JSON body or of the sign-in form, and the form's CSRF token
    (None for JSON: a cross-site page cannot send it without a CORS preflight, which the
    gateway never grants)."""
    if content_type.startswith("application/json"):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = {}
        key = parsed.get("api_key", "") if isinstance(parsed, dict) else ""
        return (key if isinstance(key, str) else ""), None
    form = forms.parse(raw)
    return forms.first(form, "api_key"), forms.first(form, "csrf")


@router.post(
    "/v1/ops/login",
    summary="Open a dashboard session with an API key (form field or JSON api_key)",
    status_code=303,
    response_class=HTMLResponse,
    responses=SIGN_IN,
)
async def post_login(request: Request, gw: Gw, g: Config, guard: Guard) -> Response:
    key, csrf = _api_key(await request.body(), request.headers.get("content-type", ""))
    refused = _cross_site(request) if csrf is None else not csrf_ok(request, csrf)
    if refused:
        return login_page(STALE_FORM, status=403, secure=https(request))
    token = bearer(f"Bearer {key}")
    p = None
    if token:
        p = await guard.check(request, token, lambda: gw.guarded(lambda: gw.principal(token)))
    if p is None or not p.allows(KeyScope.ops):
        return login_page(
            "That key is unknown, revoked, or lacks the ops scope.", secure=https(request)
        )
    return await _open_session(gw, g, request, p)


STALE_FORM = "That form has expired or came from another site; sign in again."


def _cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "") == "cross-site"


@router.get(
    "/v1/ops/login",
    summary="Follow a one-time login link",
    status_code=303,
    response_class=HTMLResponse,
    responses=SIGN_IN,
)
async def get_login(
    request: Request,
    gw: Gw,
    g: Config,
    guard: Guard,
    ticket: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    if not ticket:
        return login_page(secure=https(request))
    p = await guard.check(
        request, ticket, lambda: gw.guarded(lambda: spend_ticket(gw, ticket)), kind="session"
    )
    if p is None or not p.allows(KeyScope.ops):
        return login_page("That login link is spent or has expired.", secure=https(request))
    return await _open_session(gw, g, request, p)


@router.post(
    "/v1/ops/tickets",
    response_model=Ticket,
    responses={**ERRORS},
    summary="A one-time login link for the dashboard (valid ops_ticket_s seconds)",
)
async def post_ticket(p: OpsKey, gw: Gw, g: Config) -> JSONResponse:
    ticket = await gw.guarded(lambda: new_token(gw, "ticket", p.key_id, g.ops_ticket_s))
    return Json(
        {"url": f"/v1/ops/login?ticket={ticket}", "expires_in": g.ops_ticket_s},
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/v1/ops/logout",
    summary="End the dashboard session",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The sign-in form, signed out", "content": HTML},
        403: {"description": "The form's CSRF token is missing or stale", "content": HTML},
    },
)
async def post_logout(request: Request, gw: Gw) -> Response:
    csrf = forms.first(forms.parse(await request.body()), "csrf")
    if not csrf_ok(request, csrf):
        return login_page(STALE_FORM, status=403, secure=https(request))
    cookie = request.cookies.get(COOKIE)
    if cookie and len(cookie) <= 100:
        await gw.guarded(lambda: end_session(gw, cookie))
    out = login_page("Signed out.", status=200, secure=https(request))
    out.delete_cookie(COOKIE, path=COOKIE_PATH)
    return out
