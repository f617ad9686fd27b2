"""Signing a person in and out: /login, /login/invite, /logout (services/gateway/web.py)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway import forms, users
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Guard, Gw
from services.gateway.errors import RateLimited
from services.gateway.ops_sessions import SECURITY_HEADERS, with_csrf
from services.gateway.ops_sessions import csrf_ok as login_csrf_ok
from services.gateway.web import LOGIN_CSRF, SESSION, csrf_ok, render, safe_next, secure

router = APIRouter(include_in_schema=False)

STALE = "That form has expired or came from another site; please try again."
IDLE = "You were signed out after a while without activity. Sign in to go on."
Next = Annotated[str, Query(max_length=500)]


def _login_form(
    request: Request,
    secure_cookie: bool,
    message: str = "",
    target: str = "/app/",
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(32)
    page = render(request, "login.html", status, message=message, next=target, login_csrf=token)
    return with_csrf(page, token, secure_cookie, LOGIN_CSRF, "/login")


@router.get("/login")
async def get_login(request: Request, g: Config, next: Next = "/app/", why: str = "") -> Response:
    return _login_form(request, secure(request, g), IDLE if why == "idle" else "", safe_next(next))


async def _open(request: Request, gw: Gw, g: Config, user: users.User, target: str) -> Response:
    assert gw.pool is not None
    pool = gw.pool
    token = await gw.guarded(
        lambda: users.new_token(pool, "session", user.user_id, g.user_session_s)
    )
    await gw.audit(AuditEntry(user.tenant, user.actor, "user.login", "app"))
    out = RedirectResponse(safe_next(target), status_code=303, headers=SECURITY_HEADERS)
    out.set_cookie(
        SESSION,
        token,
        max_age=g.user_session_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure(request, g),
    )
    out.delete_cookie(LOGIN_CSRF, path="/login")
    return out


@router.post("/login")
async def post_login(request: Request, gw: Gw, g: Config, guard: Guard) -> Response:
    form = forms.parse(await request.body())
    target = safe_next(forms.first(form, "next"))
    sec = secure(request, g)
    if not login_csrf_ok(request, forms.first(form, "csrf"), LOGIN_CSRF):
        return _login_form(request, sec, STALE, target, 403)
    email, password = forms.first(form, "email"), forms.first(form, "password")
    if not email or not password:
        return _login_form(request, sec, "Type your email and your password.", target, 422)
    client = ["client:" + guard.proxies.client(request)]
    wait = guard.wait(client)
    if wait:
        raise RateLimited(wait, "too many failed sign-ins from here; see Retry-After")
    policy = users.Policy(g.lock_after, g.lock_s)
    assert gw.pool is not None
    pool = gw.pool
    user, message = await gw.guarded(
        lambda: users.sign_in(pool, email, password, forms.first(form, "code"), policy)
    )
    if user is None:
        guard.failed(client)
        await gw.audit(AuditEntry("", "anonymous", "user.login", "app", outcome="denied:401"))
        return _login_form(request, sec, message, target, 401)
    return await _open(request, gw, g, user, target)


@router.post("/logout")
async def post_logout(request: Request, gw: Gw, g: Config) -> Response:
    form = forms.parse(await request.body())
    token = request.cookies.get(SESSION, "")
    if not csrf_ok(request, forms.first(form, "csrf")):
        return _login_form(request, secure(request, g), STALE, status=403)
    if token and len(token) <= 100 and gw.pool is not None:
        pool = gw.pool
        await gw.guarded(lambda: users.end(pool, token))
    out = _login_form(request, secure(request, g), "Signed out.")
    out.delete_cookie(SESSION, path="/")
    return out


Token = Annotated[str, Query(min_length=20, max_length=100)]


@router.get("/login/invite")
async def get_invite(request: Request, gw: Gw, g: Config, token: Token) -> Response:
    assert gw.pool is not None
    pool = gw.pool
    user = await gw.guarded(lambda: users.invite_user(pool, token))
    if user is None:
        return _login_form(request, secure(request, g), "That link is spent or has expired.")
    csrf = secrets.token_urlsafe(32)
    page = render(request, "invite.html", email=user.email, token=token, login_csrf=csrf, error="")
    return with_csrf(page, csrf, secure(request, g), LOGIN_CSRF, "/login")


@router.post("/login/invite")
async def post_invite(request: Request, gw: Gw, g: Config) -> Response:
    form = forms.parse(await request.body())
    token, password = forms.first(form, "token")[:100], forms.first(form, "password")
    sec = secure(request, g)
    if not login_csrf_ok(request, forms.first(form, "csrf"), LOGIN_CSRF):
        return _login_form(request, sec, STALE, status=403)
    try:
        users.check_password(password)
    except ValueError as exc:
        csrf = secrets.token_urlsafe(32)
        page: HTMLResponse = render(
            request, "invite.html", 422, email="", token=token, login_csrf=csrf, error=str(exc)
        )
        return with_csrf(page, csrf, sec, LOGIN_CSRF, "/login")
    assert gw.pool is not None
    pool = gw.pool
    user = await gw.guarded(lambda: users.accept_invite(pool, token, password))
    if user is None:
        return _login_form(request, sec, "That link is spent or has expired.")
    await gw.audit(AuditEntry(user.tenant, user.actor, "user.password_set", user.user_id))
    return await _open(request, gw, g, user, "/app/")
