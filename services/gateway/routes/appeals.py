"""Appeals of a claim: draft one from its open line denials, send it, list its cases,
fetch a case's letter (PDF)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.exceptions import HTTPException

from schemas.events_workqueue import AppealAction
from services.gateway import appeals
from services.gateway.core import AuditEntry
from services.gateway.denials import denied
from services.gateway.deps import Gw, IdemKey, ReadKey, WorkKey
from services.gateway.errors import ERRORS, Json, problem
from services.gateway.models import Answer, Strict
from services.gateway.routes.claims import NOT_FOUND, ClaimId, _on_claim

router = APIRouter()
AppealId = Annotated[str, Path(min_length=1, max_length=80)]


class AppealDraft(Strict):
    """The open line denials the appeal disputes (ids from GET /v1/workqueues/line_denials)
    and the documents sent with the letter."""

    denial_ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=50)
    attachments: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    note: str = Field(default="", max_length=500)


class AppealAccepted(Answer):
    claim_id: str
    action: Literal["draft", "send"]
    status: Literal["accepted"]


class AppealCase(Answer):
    appeal_id: str
    claim_id: str
    payer_id: str
    payer_claim_number: str
    category: str
    lines: list[dict[str, Any]]
    attachments: list[str]
    state: Literal["drafted", "sent", "decided"]
    outcome: Literal["upheld", "overturned"] | None
    determination_date: str
    deadline: str = Field(description="the last day the payer takes the appeal")
    answer_due: str | None = Field(description="when the payer's decision is due (once sent)")
    paid_before_cents: int
    paid_after_cents: int | None
    drafted_by: str
    drafted_at: str
    sent_at: str | None
    decided_at: str | None


class AppealCases(Answer):
    items: list[AppealCase]


_CONFLICT = problem(409, "Not appealable (state, no payer claim number, or no such denial)")


@router.post(
    "/v1/claims/{claim_id}/appeals",
    status_code=202,
    response_model=AppealAccepted,
    responses={**ERRORS, **NOT_FOUND, **_CONFLICT},
    summary="Draft an appeal of a claim's denied or reduced lines (the claims service checks"
    " the payer's deadline and writes the letter)",
)
async def post_draft(
    request: Request,
    claim_id: ClaimId,
    body: AppealDraft,
    gw: Gw,
    p: WorkKey,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    return await _on_claim(
        gw, request, p, idempotency_key, "appeal-draft", claim_id,
        lambda actor, extra: appeals.request(
            gw, actor, claim_id, AppealAction.draft, body.model_dump(), extra
        ),
    )  # fmt: skip


@router.post(
    "/v1/claims/{claim_id}/appeals/send",
    status_code=202,
    response_model=AppealAccepted,
    responses={**ERRORS, **NOT_FOUND, **_CONFLICT},
    summary="Record that the drafted appeal's letter went to the payer (its answer is due)",
)
async def post_send(
    request: Request, claim_id: ClaimId, gw: Gw, p: WorkKey, idempotency_key: IdemKey = None
) -> JSONResponse:
    return await _on_claim(
        gw, request, p, idempotency_key, "appeal-send", claim_id,
        lambda actor, extra: appeals.request(gw, actor, claim_id, AppealAction.send, {}, extra),
    )  # fmt: skip


@router.get(
    "/v1/claims/{claim_id}/appeals",
    response_model=AppealCases,
    responses={**ERRORS},
    summary="A claim's appeals: state, deadline, answer due, outcome",
)
async def get_cases(claim_id: ClaimId, gw: Gw, p: ReadKey) -> JSONResponse:
    items = await gw.guarded(lambda: appeals.cases(gw, p.tenant, claim_id))
    await gw.audit(
        AuditEntry(p.tenant, p.key_id, "claim.appeals.read", claim_id, claim_ids=(claim_id,))
    )
    return Json({"items": items})


class PdfResponse(Response):
    media_type = "application/pdf"


@router.get(
    "/v1/claims/{claim_id}/appeals/{appeal_id}/letter",
    response_class=PdfResponse,
    responses={
        **ERRORS,
        **problem(404, "No such appeal"),
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    },
    summary="The appeal's letter as sent to the payer (PDF)",
)
async def get_letter(
    request: Request, claim_id: ClaimId, appeal_id: AppealId, gw: Gw, p: ReadKey
) -> Response:
    pdf = await gw.guarded(lambda: appeals.letter(gw, p.tenant, claim_id, appeal_id))
    if pdf is None:
        await denied(gw, request, 404, "no such appeal for this tenant", p, (claim_id,))
        raise HTTPException(404, "no such appeal")
    await gw.audit(
        AuditEntry(p.tenant, p.key_id, "claim.appeal.letter", appeal_id, claim_ids=(claim_id,))
    )
    return PdfResponse(pdf)
