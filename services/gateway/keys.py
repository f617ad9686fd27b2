"""API keys: 256-bit random tokens, stored as sha256; scopes per key; one tenant per key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "rcmk"


class Scope(StrEnum):
    intake = "intake"  # send encounters, FHIR bundles, patient payments
    read = "read"  # claims, timelines, work queues, KPIs
    work = "work"  # fix claims in work queues, post patient payments
    ops = "ops"  # lag, funnel, denials, aging, the dashboard: counts and sums, no PHI
    admin = "admin"  # everything


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]
    rate_per_s: int

    def allows(self, *any_of: Scope) -> bool:
        return Scope.admin in self.scopes or any(s in self.scopes for s in any_of)


def parse_scopes(text: str) -> list[str]:
    """'intake,read' -> ['intake', 'read']; raises ValueError naming an unknown scope."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part not in Scope.__members__:
            raise ValueError(f"unknown scope {part!r}; known: {', '.join(Scope)}")
        out.append(part)
    if not out:
        raise ValueError("at least one scope is required")
    return sorted(set(out))


def new_token() -> tuple[str, str]:
    """A fresh key: (key id, token). The token is shown once and stored only hashed."""
    key_id = "k_" + secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    # A 256-bit random secret cannot be guessed, so a fast hash suffices (no stretching).
    return hashlib.sha256(token.encode()).digest()


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
