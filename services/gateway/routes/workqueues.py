"""GET /v1/workqueues/{queue}: what waits for a person."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.gateway import denial_queries, queries
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw, ReadOrWorkKey
from services.gateway.errors import ERRORS, Json
from services.gateway.models import WorkQueue

router = APIRouter()


class Queue(StrEnum):
    holds = "holds"
    rejections = "rejections"
    denials = "denials"
    unmatched = "unmatched"
    underpayments = "underpayments"
    line_denials = "line_denials"


@router.get(
    "/v1/workqueues/{queue}",
    response_model=WorkQueue,
    responses={**ERRORS},
    summary="Claims waiting for a person: held, rejected, denied; unposted remittance;"
    " lines paid below contract; every denied or reduced line (line_denials) with its codes in"
    " words and what to do",
)
async def get_queue(
    queue: Queue,
    gw: Gw,
    g: Config,
    p: ReadOrWorkKey,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            if queue is Queue.line_denials:
                return await denial_queries.line_denials(conn, g, p.tenant, limit, patients)
            return await queries.work_queue(conn, g, p.tenant, queue.value, limit, patients)

    patients: list[str] = []
    items = await gw.guarded(run)
    await gw.audit(
        AuditEntry(
            p.tenant,
            p.key_id,
            f"workqueue.read.{queue.value}",
            f"workqueue:{queue.value}",
            detail=f"{len(items)} items",
            patient_ids=tuple(patients),
            claim_ids=tuple(str(i["claim_id"]) for i in items if i.get("claim_id")),
        )
    )
    return Json({"queue": queue.value, "items": items})
