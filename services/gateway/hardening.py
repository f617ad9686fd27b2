"""HTTP hardening: headers on every answer, which forwarded headers to believe, and a
limit on failed authentication per client and per key (docs/security.md).

- Every answer carries ``Cache-Control: no-store`` (nearly every one holds PHI or
  figures of a tenant, and a shared cache must never keep one), ``nosniff``, a
  restrictive Content-Security-Policy with ``frame-ancestors 'none'`` (HTML routes set
  their own, with a nonce), ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.
  uvicorn's ``server`` header is off (``services/gateway/__main__.py``).
- ``X-Forwarded-For`` and ``X-Forwarded-Proto`` count only when the connection comes from
  one of RCM_GATEWAY_TRUSTED_PROXIES; anyone else could claim https (and so decide the
  session cookie's Secure flag) or another client's address.
- A failed authentication (unknown, revoked or malformed token, session or login link)
  spends a token from two buckets: the client's and the key id's (the token names its
  key id). When either is empty, a token not known good answers 429 without a database
  lookup; a token that authenticated before still gets through, so an attacker
  hammering a key id or sharing a NAT cannot lock its owner out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.config import Network
from services.gateway.errors import RateLimited

T = TypeVar("T")

HEADERS = {
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}
# rcmk_<key id>_<secret> (services/gateway/keys.py: new_token)
TOKEN = re.compile(r"^rcmk_(k_[0-9a-f]{12})_[A-Za-z0-9_-]{20,120}$")
SESSION = re.compile(r"^[A-Za-z0-9_-]{20,100}$")  # session cookies and login links
KNOWN_GOOD_MAX = 100_000


class SecurityHeaders:
    """Adds HEADERS to every answer that does not set its own, and drops any Server header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = [(k, v) for k, v in msg.get("headers", []) if k.lower() != b"server"]
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS.items() if k not in have]
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, send_hardened)


@dataclass
class Proxies:
    nets: tuple[Network, ...] = ()

    def trusted(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.nets)

    def client(self, request: Request) -> str:
        """The caller's address: the peer, or through trusted proxies the first hop they
        did not add themselves (X-Forwarded-For, read from the right)."""
        peer = request.client.host if request.client else ""
        if not self.trusted(peer):
            return peer
        hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self.trusted(hop):
                return hop
        return peer

    def https(self, request: Request) -> bool:
        """Whether the caller reached us over https (decides the cookie's Secure flag)."""
        peer = request.client.host if request.client else ""
        if self.trusted(peer):
            values = [
                p.strip()
                for v in request.headers.getlist("x-forwarded-proto")
                for p in v.split(",")
            ]
            if values and values[-1]:
                return values[-1].lower() == "https"
        return request.url.scheme == "https"


@dataclass
class AuthGuard:
    """Buckets of failed authentications: ``burst`` each, refilled ``per_minute``."""

    burst: int
    per_minute: int
    proxies: Proxies
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    good: set[bytes] = field(default_factory=set)

    def _level(self, name: str, now: float) -> float:
        tokens, last = self.buckets.get(name, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.per_minute / 60)

    def wait(self, names: list[str]) -> float:
        """0 when every bucket has a token, else seconds until they all do."""
        now = time.monotonic()
        short = max((1 - self._level(n, now) for n in names), default=0.0)
        return short * 60 / self.per_minute if short > 0 else 0.0

    def failed(self, names: list[str]) -> None:
        now = time.monotonic()
        if len(self.buckets) > KNOWN_GOOD_MAX:  # forget the buckets that have refilled
            full = [n for n in self.buckets if self._level(n, now) >= self.burst]
            for n in full:
                del self.buckets[n]
        for n in names:
            self.buckets[n] = (max(0.0, self._level(n, now) - 1), now)

    def succeeded(self, secret: str) -> None:
        if len(self.good) >= KNOWN_GOOD_MAX:
            self.good.clear()
        self.good.add(_digest(secret))

    async def check(
        self,
        request: Request,
        secret: str,
        lookup: Callable[[], Awaitable[T | None]],
        *,
        kind: str = "token",
    ) -> T | None:
        """``lookup()``'s principal, or None (a failure, counted); 429 when over the limit."""
        client = "client:" + self.proxies.client(request)
        if kind == "token":
            m = TOKEN.match(secret)
            names = [client, "key:" + m.group(1)] if m else [client]
        else:
            m = SESSION.match(secret)
            names = [client]
        if _digest(secret) not in self.good:
            wait = self.wait(names)
            if wait:
                raise RateLimited(wait, "too many failed authentications; see Retry-After")
        found = await lookup() if m else None
        if found is None:
            self.good.discard(_digest(secret))
            self.failed(names)
        else:
            self.succeeded(secret)
        return found


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
