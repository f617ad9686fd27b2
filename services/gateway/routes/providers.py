"""GET /v1/providers: the tenant's provider directory (from FHIR provider bundles)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.gateway import directory
from services.gateway.deps import Gw, ReadKey
from services.gateway.errors import ERRORS, Json
from services.gateway.models import ProviderDirectory

router = APIRouter()


@router.get(
    "/v1/providers",
    response_model=ProviderDirectory,
    responses={**ERRORS},
    summary="The provider directory: billing and rendering providers and locations",
    description="Entries upserted from the Organization, Practitioner, PractitionerRole and"
    " Location resources of FHIR bundles (POST /v1/fhir, rcm fhir import), by NPI or else by"
    " FHIR id; this tenant's only. No patient data. See docs/fhir-mapping.md.",
)
async def get_providers(
    gw: Gw,
    p: ReadKey,
    kind: Literal["organization", "practitioner", "location"] | None = None,
    npi: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await directory.listing(conn, p.tenant, kind, npi, limit)

    return Json({"providers": await gw.guarded(run)})
