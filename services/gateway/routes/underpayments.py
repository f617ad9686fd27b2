"""GET /v1/reports/underpayments: lines paid below contract, by payer and month."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.gateway import underpayments
from services.gateway.deps import Config, Gw, ReadKey
from services.gateway.errors import ERRORS, Json
from services.gateway.models import UnderpaymentReport

router = APIRouter()


@router.get(
    "/v1/reports/underpayments",
    response_model=UnderpaymentReport,
    responses={**ERRORS},
    summary="Underpaid lines by payer and month of service: expected, allowed, paid, shortfall",
    description="Lines a payer allowed below this tenant's contract in force on their date of"
    " service (`rcm contracts import`) by more than the tenant's threshold; reversed postings"
    " left out. `since`: the first date of service counted.",
)
async def get_underpayments(
    gw: Gw, g: Config, p: ReadKey, since: dt.date | None = None
) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await underpayments.report(conn, g, p.tenant, since)

    return Json({"underpayments": await gw.guarded(run)})
