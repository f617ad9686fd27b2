"""The ops routes every service serves on its faust web server: /healthz (open) and
/metrics (bearer token); and the headers every answer of that server carries (``harden``):
no caching, no sniffing, no framing, no referrer, no server banner."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import faust
from prometheus_client import generate_latest

from runtime.settings import Settings

if TYPE_CHECKING:
    from runtime.service import Service


def authorized(headers: Mapping[str, str], s: Settings) -> bool:
    """Whether a request carries the ops bearer token."""
    value = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.encode(), s.ops_token.get_secret_value().encode()
    )


HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}


async def _hardened(request: Any, response: Any) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # aiohttp fills in "Python/3.x aiohttp/3.x" only when no Server header is set.
    response.headers["Server"] = ""


def harden(fapp: faust.App) -> None:
    """Every answer of the faust web server (aiohttp) gets HEADERS and no banner."""
    web: Any = fapp.web  # faust's aiohttp driver
    web.web_app.on_response_prepare.append(_hardened)


def install(svc: Service) -> None:
    """Adds /healthz and /metrics to the service's web server, hardened."""
    harden(svc.app)

    @svc.app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok = svc.ready.is_set() and (svc.consumer is None or svc.consumer.joined.is_set())
        return web.json({"service": svc.name, "ok": ok}, status=200 if ok else 503)

    @svc.app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        if not authorized(request.headers, svc.settings):
            return web.json({"error": "missing or bad bearer token"}, status=401)
        return web.bytes(
            generate_latest(svc.metrics.registry), content_type="text/plain; version=0.0.4"
        )
