"""A claim's raw X12 files, one click from the claim page: the 837P interchange it went
out in and each 835 that paid it, as text. A file may carry other claims of the tenant:
the audit row names every claim in it. Another tenant's claim, or a file that did not
carry this claim: 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.gateway import claim_files
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw
from services.gateway.ops_sessions import SECURITY_HEADERS
from services.gateway.routes.app_pages import ClaimId, load_claim
from services.gateway.users import Right
from services.gateway.web import PageError, Person, need

router = APIRouter(include_in_schema=False)
FileNo = Annotated[int, PathParam(ge=1, le=2**62)]


def _text(x12: str, name: str) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{name}"'}
    return Response(x12, media_type="text/plain; charset=utf-8", headers=headers)


@router.get("/app/claims/{claim_id}/files/837/{icn}")
async def raw_837(gw: Gw, g: Config, user: Person, claim_id: ClaimId, icn: FileNo) -> Response:
    _, patient_id, _ = await load_claim(gw, g, user, claim_id)
    await need(gw, user, Right.read, claim_id)

    async def run() -> tuple[str, list[str]] | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await claim_files.raw_837(conn, g, user.tenant, claim_id, icn)

    return await _serve(gw, user, claim_id, patient_id, f"837:{icn}", await gw.guarded(run))


@router.get("/app/claims/{claim_id}/files/835/{remit_id}")
async def raw_835(gw: Gw, g: Config, user: Person, claim_id: ClaimId, remit_id: FileNo) -> Response:
    _, patient_id, _ = await load_claim(gw, g, user, claim_id)
    await need(gw, user, Right.read, claim_id)

    async def run() -> tuple[str, list[str]] | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await claim_files.raw_835(conn, g, user.tenant, claim_id, remit_id)

    return await _serve(gw, user, claim_id, patient_id, f"835:{remit_id}", await gw.guarded(run))


async def _serve(
    gw: Gw,
    user: Person,
    claim_id: str,
    patient_id: str,
    name: str,
    found: tuple[str, list[str]] | None,
) -> Response:
    if found is None:
        await gw.audit(
            AuditEntry(user.tenant, user.actor, "app.x12_file", name, outcome="denied:404",
                       claim_ids=(claim_id,))
        )  # fmt: skip
        raise PageError(404, "There is no such file for this claim.", user)
    x12, claims = found
    await gw.audit(
        AuditEntry(
            user.tenant, user.actor, "app.x12_file", name, patient_id,
            detail=f"{len(claims)} claims in the file", claim_ids=tuple(claims),
        )
    )  # fmt: skip
    return _text(x12, name.replace(":", "-") + ".x12")
