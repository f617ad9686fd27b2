"""Audit rows for refused requests: a missing, unknown or revoked key (401), a key
without the scope (403), and a claim that is not the caller's tenant's (404). An attempt
is recorded like an access, with whoever is known to have made it."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException

from services.gateway import lookups
from services.gateway.audit_store import AuditEntry
from services.gateway.core import Gateway
from services.gateway.keys import Principal


def _action(request: Request) -> str:
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "unrouted"
    return f"{request.method} {template}"[:120]


async def denied(
    gw: Gateway,
    request: Request,
    status: int,
    why: str,
    p: Principal | None = None,
    claim_ids: tuple[str, ...] = (),
) -> None:
    """Writes the attempt's audit row (before the refusal is answered). A gateway not
    started (no database: it can read nothing either) has nowhere to write it."""
    if gw.pool is None:
        return
    client = request.client.host if request.client else "unknown"
    await gw.audit(
        AuditEntry(
            p.tenant if p else "",
            p.key_id if p else "anonymous",
            _action(request),
            request.url.path,
            outcome=f"denied:{status}",
            detail=f"{why}; from {client}",
            claim_ids=claim_ids,
        )
    )


async def known_claim(
    gw: Gateway, request: Request, p: Principal, claims_schema: str, claim_id: str | None
) -> None:
    """A claim a request names (when it names one) must be the caller's tenant's: else 404,
    after the attempt's audit row."""
    if claim_id is None:
        return
    pool = gw.pool
    assert pool is not None
    found = await gw.guarded(lambda: lookups.claim_exists(pool, claims_schema, p.tenant, claim_id))
    if not found:
        await denied(gw, request, 404, "no such claim for this tenant", p, (claim_id,))
        raise HTTPException(404, "no such claim")
