"""GET /v1/payers: the tenant's payer directory (the claims service owns it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.gateway import payers
from services.gateway.deps import Gw, ReadKey
from services.gateway.errors import ERRORS, Json
from services.gateway.models import PayerDirectory

router = APIRouter()


@router.get(
    "/v1/payers",
    response_model=PayerDirectory,
    responses={**ERRORS},
    summary="The payer directory: filing indicator, route, real-time, days, enrollment",
    description="The payers loaded with `rcm payers import FILE.csv --tenant T`, by payer id;"
    " a payer missing from the last import is kept with active false. This tenant's only."
    " `active` filters on it.",
)
async def get_payers(
    gw: Gw,
    p: ReadKey,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await payers.listing(conn, gw.g.claims_schema, p.tenant, active, limit)

    return Json({"payers": await gw.guarded(run)})
