"""What a route receives: the Gateway, the settings and the caller's key, injected from
``app.state`` (set by ``create_app``), and idempotent answers for the write routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from runtime.settings import Settings
from services.gateway import intake
from services.gateway.config import GatewaySettings
from services.gateway.core import Gateway, _Write, sha
from services.gateway.denials import denied
from services.gateway.errors import Json, RateLimited
from services.gateway.hardening import AuthGuard
from services.gateway.keys import Principal, bearer
from services.gateway.keys import Scope as KeyScope


async def _gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def _config(request: Request) -> GatewaySettings:
    g: GatewaySettings = request.app.state.config
    return g


async def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


async def _guard(request: Request) -> AuthGuard:
    guard: AuthGuard = request.app.state.auth
    return guard


Gw = Annotated[Gateway, Depends(_gateway)]
Guard = Annotated[AuthGuard, Depends(_guard)]
Config = Annotated[GatewaySettings, Depends(_config)]
RcmSettings = Annotated[Settings, Depends(_settings)]

_security = HTTPBearer(auto_error=False, description="An API key: rcm keys create")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_security)]


def need(*scopes: KeyScope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's key, with one of ``scopes`` (any key when none)."""

    async def dependency(request: Request, gw: Gw, guard: Guard, creds: Credentials) -> Principal:
        token = bearer(f"{creds.scheme} {creds.credentials}") if creds else None
        if token is None:
            await denied(gw, request, 401, "missing bearer token")
            raise HTTPException(401, "missing bearer token")
        p: Principal | None = await guard.check(
            request, token, lambda: gw.guarded(lambda: gw.principal(token))
        )
        if p is None:
            await denied(gw, request, 401, "unknown or revoked API key")
            raise HTTPException(401, "unknown or revoked API key")
        if scopes and not p.allows(*scopes):
            await denied(gw, request, 403, f"needs scope {' or '.join(scopes)}", p)
            raise HTTPException(403, f"the key needs scope {' or '.join(scopes)}")
        wait = gw.rate.allow(p.key_id, p.rate_per_s)
        if wait:
            raise RateLimited(wait)
        return p

    return dependency


AnyKey = Annotated[Principal, Depends(need())]
IntakeKey = Annotated[Principal, Depends(need(KeyScope.intake))]
ReadKey = Annotated[Principal, Depends(need(KeyScope.read))]
WorkKey = Annotated[Principal, Depends(need(KeyScope.work))]
ReadOrWorkKey = Annotated[Principal, Depends(need(KeyScope.read, KeyScope.work))]
PaymentKey = Annotated[Principal, Depends(need(KeyScope.work, KeyScope.intake))]

IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key and body gets the first answer",
    ),
]


async def idempotent(
    gw: Gateway,
    request: Request,
    p: Principal,
    key: str | None,
    route: str,
    run: Callable[[intake.Extra], Awaitable[dict[str, Any]]],
    *,
    encounter_id: str | None = None,
    tenant_wide: bool = False,
) -> JSONResponse:
    """202 with what ``run`` answers; with an Idempotency-Key, a retry of the same request
    with the same API key gets the first answer (Idempotent-Replay: true) and runs nothing
    again."""
    status = 202
    if key is None:
        return Json(await run(intake.nothing), status_code=status)
    request_hash = sha(route.encode() + b"\x00" + await request.body())
    # An Idempotency-Key is the API key's: another key of the tenant (another EHR, another
    # integration) choosing the same one neither replays nor blocks this one. A natural id
    # of the tenant's data (a payment_id) stays tenant-wide (``tenant_wide``).
    if not tenant_wide:
        key = f"{p.key_id}:{key}"
    first = await gw.idem_begin(p.tenant, key, route, request_hash, encounter_id)
    if first == "mismatch":
        raise HTTPException(422, "Idempotency-Key was used with a different request")
    if first == "pending":
        raise HTTPException(409, "a request with this Idempotency-Key is in progress")
    if isinstance(first, tuple):
        return Json(first[1], status_code=first[0], headers={"Idempotent-Replay": "true"})
    tenant = p.tenant

    def done(answer: dict[str, Any]) -> list[_Write]:
        return [gw.idem_done(tenant, key, status, answer)]

    try:
        body = await run(done)
    except BaseException:
        await gw.idem_abandon(p.tenant, key)
        raise
    return Json(body, status_code=status)
