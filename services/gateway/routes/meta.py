"""GET /healthz (no key) and GET /openapi.json (any key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.deps import AnyKey, Gw
from services.gateway.errors import Json
from services.gateway.models import Health

router = APIRouter()


@router.get("/healthz", include_in_schema=False, response_model=Health)
async def healthz(gw: Gw) -> JSONResponse:
    ok = gw.pool is not None
    return Json(
        {"service": "gateway", "ok": ok, "kafka": gw.kafka_ready()},
        status_code=200 if ok else 503,
    )


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, p: AnyKey) -> JSONResponse:
    return Json(request.app.openapi())
