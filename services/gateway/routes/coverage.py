"""POST /v1/coverages: a bulk coverage upload."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.events_coverage import CoverageReported
from services.gateway import intake
from services.gateway.deps import Gw, IdemKey, IntakeKey, idempotent
from services.gateway.errors import ERRORS
from services.gateway.models import CoveragesAccepted, CoverageUpload

router = APIRouter()


@router.post(
    "/v1/coverages",
    status_code=202,
    response_model=CoveragesAccepted,
    responses={**ERRORS},
    summary="Bulk coverage upload: each row is recorded by eligibility with history",
)
async def post_coverages(
    request: Request,
    body: CoverageUpload,
    gw: Gw,
    p: IntakeKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    actor = intake.Actor(p.tenant, p.key_id)
    rows = [
        CoverageReported(patient_id=r.patient_id, coverage=r.coverage, source="gateway")
        for r in body.coverages
    ]
    return await idempotent(
        gw,
        request,
        p,
        idempotency_key,
        "coverages",
        lambda extra: intake.coverages(gw, actor, rows, extra),
    )
