"""POST /v1/x12/files: an 835, 999, 277CA or 277 a person brings (a payer portal's
download, an emailed ERA), taken in by the connector the way a mailbox's file is;
GET /v1/x12/files/{sha256}: what the connector made of it (its view ``receipts_v1``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from schemas.events_transport import X12FileUploaded
from services.gateway import intake
from services.gateway.core import AuditEntry, Gateway, event_id
from services.gateway.deps import Gw, IntakeKey, ReadKey
from services.gateway.errors import ERRORS, Json, problem
from services.gateway.models import FileReceipts, FileReceived

router = APIRouter()
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
SHA = r"^[0-9a-f]{64}$"


@router.post(
    "/v1/x12/files",
    status_code=202,
    response_model=FileReceived,
    responses={**ERRORS},
    summary="Upload an 835, 999, 277CA or 277 file (the request body, as sent by the payer)",
    description="The connector checks the envelope, keeps the file and announces it once per"
    " content: the same bytes again, under any name or from the mailbox, are a duplicate."
    " The outcome is read at `receipt`.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def post_file(
    request: Request,
    gw: Gw,
    p: IntakeKey,
    name: Annotated[str, Query(pattern=NAME, description="The file's name")],
) -> JSONResponse:
    body = await request.body()
    if not body:
        raise intake.Invalid([{"loc": "body", "msg": "an empty file", "type": "missing"}])
    digest = hashlib.sha256(body).hexdigest()
    actor = intake.Actor(p.tenant, p.key_id)
    event = X12FileUploaded(
        sha256=digest, name=name, uploaded_by=p.key_id, x12=body.decode("latin-1")
    )
    await gw.send(
        event,
        tenant=p.tenant,
        correlation_id=f"file:{digest[:16]}",
        ce_id=event_id(p.tenant, "x12file", name, body),
        actor=actor.who,
    )
    await gw.commit(
        [Gateway.audit_write(AuditEntry(p.tenant, actor.who, "x12.upload", f"file:{digest}"))]
    )
    answer = {
        "sha256": digest,
        "name": name,
        "status": "received",
        "receipt": f"/v1/x12/files/{digest}",
    }
    return Json(answer, status_code=202)


@router.get(
    "/v1/x12/files/{sha256}",
    response_model=FileReceipts,
    responses={**ERRORS, **problem(404, "No such file for this tenant (yet)")},
    summary="What the connector made of a file: accepted, duplicate or rejected and why",
)
async def get_file(gw: Gw, p: ReadKey, sha256: Annotated[str, Path(pattern=SHA)]) -> JSONResponse:
    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        view = f"{gw.g.connector_schema}.receipts_v1"
        async with gw.pool.acquire() as conn:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
                return []
            rows = await conn.fetch(
                f"SELECT name, account, outcome, reason, kind, at FROM {view}"
                " WHERE tenant = $1 AND sha256 = $2 ORDER BY receipt_id LIMIT 100",
                p.tenant,
                sha256,
            )
        return [{**dict(r), "at": r["at"].isoformat()} for r in rows]

    found = await gw.guarded(run)
    if not found:
        raise HTTPException(404, "no such file for this tenant (yet)")
    return Json({"sha256": sha256, "receipts": found})
