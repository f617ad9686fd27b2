"""A claim: GET its state and timeline, search claims, and fix or void one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from schemas.states import ClaimState
from services.gateway import intake, queries
from services.gateway.core import AuditEntry, Gateway
from services.gateway.denials import denied
from services.gateway.deps import Config, Gw, IdemKey, ReadKey, WorkKey, idempotent
from services.gateway.errors import ERRORS, Json, problem
from services.gateway.keys import Principal
from services.gateway.models import (
    Claim,
    ClaimFix,
    ClaimPage,
    ClaimVoid,
    FixAccepted,
    VoidAccepted,
)

router = APIRouter()

ClaimId = Annotated[str, Path(min_length=1, max_length=64)]
NOT_FOUND = problem(404, "No such claim for this tenant")


async def _on_claim(
    gw: Gateway,
    request: Request,
    p: Principal,
    idempotency_key: str | None,
    action: str,
    claim_id: str,
    call: Callable[[intake.Actor, intake.Extra], Awaitable[dict[str, Any] | None]],
) -> JSONResponse:
    """A work-queue action on one claim: idempotent, 404 when not this tenant's."""
    actor = intake.Actor(p.tenant, p.key_id)

    async def run(extra: intake.Extra) -> dict[str, Any]:
        out: dict[str, Any] | None = await gw.guarded(lambda: call(actor, extra))
        if out is None:
            await denied(gw, request, 404, "no such claim for this tenant", p, (claim_id,))
            raise HTTPException(404, "no such claim")
        return out

    return await idempotent(gw, request, p, idempotency_key, f"{action}:{claim_id}", run)


@router.post(
    "/v1/claims/{claim_id}/fix",
    status_code=202,
    response_model=FixAccepted,
    responses={
        **ERRORS,
        **NOT_FOUND,
        **problem(409, "Not fixable here (state, or unknown encounter)"),
    },
    summary="Fix a held, rejected or denied claim: it re-enters the flow (claim.fixed)",
)
async def post_fix(
    request: Request,
    claim_id: ClaimId,
    body: ClaimFix,
    gw: Gw,
    p: WorkKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    return await _on_claim(
        gw,
        request,
        p,
        idempotency_key,
        "fix",
        claim_id,
        lambda actor, extra: intake.fix(gw, actor, claim_id, body.changes(), body.note, extra),
    )


@router.post(
    "/v1/claims/{claim_id}/void",
    status_code=202,
    response_model=VoidAccepted,
    responses={
        **ERRORS,
        **NOT_FOUND,
        **problem(409, "Not adjudicated by the payer: nothing to void"),
    },
    summary="Void a claim the payer adjudicated: it goes out with frequency 8 and REF*F8",
)
async def post_void(
    request: Request,
    claim_id: ClaimId,
    body: ClaimVoid,
    gw: Gw,
    p: WorkKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    return await _on_claim(
        gw,
        request,
        p,
        idempotency_key,
        "void",
        claim_id,
        lambda actor, extra: intake.void(gw, actor, claim_id, body.reason, extra),
    )


@router.get(
    "/v1/claims/{claim_id}",
    response_model=Claim,
    responses={**ERRORS, **problem(404, "No such claim")},
    summary="A claim's state and timeline",
)
async def get_claim(
    request: Request, claim_id: ClaimId, gw: Gw, g: Config, p: ReadKey
) -> JSONResponse:
    async def run() -> tuple[dict[str, Any], str] | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await queries.claim(conn, g, p.tenant, claim_id)

    found = await gw.guarded(run)
    if found is None:
        await denied(gw, request, 404, "no such claim for this tenant", p, (claim_id,))
        raise HTTPException(404, "no such claim")
    body, patient_id = found
    await gw.audit(
        AuditEntry(p.tenant, p.key_id, "claim.read", claim_id, patient_id, claim_ids=(claim_id,))
    )
    return Json(body)


@router.get("/v1/claims", response_model=ClaimPage, responses={**ERRORS}, summary="Search claims")
async def search_claims(
    gw: Gw,
    g: Config,
    p: ReadKey,
    state: ClaimState | None = None,
    payer_id: Annotated[str | None, Query(max_length=80)] = None,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    patient_control_number: Annotated[str | None, Query(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=64, description="Cursor: last claim_id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await queries.search(
                conn,
                g,
                p.tenant,
                state=state.value if state else None,
                payer_id=payer_id,
                date_from=date_from,
                date_to=date_to,
                patient_control_number=patient_control_number,
                after=after,
                limit=limit,
                patients=patients,
            )

    patients: list[str] = []
    items = await gw.guarded(run)
    await gw.audit(
        AuditEntry(
            p.tenant,
            p.key_id,
            "claims.search",
            "claims",
            detail=f"{len(items)} claims",
            patient_ids=tuple(patients),
            claim_ids=tuple(i["claim_id"] for i in items),
        )
    )
    nxt = items[-1]["claim_id"] if len(items) == limit else None
    return Json({"items": items, "next": nxt})
