"""The claim page's money actions, by role, through the commands the JSON API sends:

- an appeal of the payer's denied lines (right ``appeal``: biller, manager, admin):
  ``appeals.request`` (rcm.claim.appeal_requested.v1, draft then send), the path of
  ``POST /v1/claims/{id}/appeals``; claims checks the payer's deadline;
- a transfer of the claim's balance between the payer and the patient (right ``adjust``):
  ``ledger_send.send`` (ledger.command ``transfer``), the path of ``POST
  /v1/ledger/commands``; above the person's limit it waits for approval.

(A corrected claim is the fix form on an adjudicated claim: ``app_actions.post_fix``,
right ``void``.) Each action checks the CSRF token and the claim's version the page was
built from (a claim that changed is refused with what changed), writes its audit row
under the person's id, and redirects (303) to the claim page saying what was sent.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from schemas.events_ledger import REASON, LedgerAction, LedgerCommand, TransferDirection
from schemas.events_workqueue import AppealAction
from services.gateway import appeals, forms, intake, ledger_send
from services.gateway.deps import Config, Gw
from services.gateway.routes.app_actions import _cents, claim_action, send
from services.gateway.routes.app_pages import ClaimId, load_claim
from services.gateway.users import Right
from services.gateway.web import PageError, Person

router = APIRouter(include_in_schema=False)
MAX_DENIALS = 50
MAX_ATTACHMENTS = 20


@router.post("/app/claims/{claim_id}/appeal")
async def post_appeal(
    request: Request, gw: Gw, g: Config, user: Person, claim_id: ClaimId
) -> Response:
    form, again, changed = await claim_action(request, gw, g, user, claim_id, Right.appeal)
    if changed:
        return again(409, {}, changed)
    action = forms.first(form, "action")
    if action not in ("draft", "send"):
        raise PageError(400, "The form is incomplete; reload it.", user)
    body: dict[str, object] = {}
    if action == "draft":
        ids = [int(x) for x in form.get("denial", []) if x.isdigit() and len(x) < 19]
        if not ids:
            return again(422, {"denial": "Choose at least one denied line to appeal."})
        attachments = forms.first(form, "attachments").splitlines()
        body = {
            "denial_ids": ids[:MAX_DENIALS],
            "attachments": [a.strip()[:200] for a in attachments if a.strip()][:MAX_ATTACHMENTS],
            "note": forms.first(form, "appeal_note").strip()[:500],
        }
    actor = intake.Actor(user.tenant, user.actor)
    return await send(
        gw, again, claim_id, f"appeal-{action}",
        lambda: appeals.request(gw, actor, claim_id, AppealAction(action), body),
    )  # fmt: skip


@router.post("/app/claims/{claim_id}/transfer")
async def post_transfer(
    request: Request, gw: Gw, g: Config, user: Person, claim_id: ClaimId
) -> Response:
    form, again, changed = await claim_action(request, gw, g, user, claim_id, Right.adjust)
    if changed:
        return again(409, {}, changed)
    command_id = forms.first(form, "command_id")
    if not re.fullmatch(r"app-[0-9a-f]{16}", command_id):
        raise PageError(400, "The form is incomplete; reload it.", user)
    _, _, enc = await load_claim(gw, g, user, claim_id)
    if enc is None:
        return again(409, {}, "This claim's encounter did not come through this gateway.")
    errors: dict[str, str] = {}
    try:
        direction = TransferDirection(forms.first(form, "direction"))
    except ValueError:
        errors["direction"] = "Choose who the balance goes to: the patient or the payer."
    try:
        amount = _cents(forms.first(form, "amount"))
    except ValueError:
        errors["transfer_amount"] = "Give an amount such as 25.00."
    reason = forms.first(form, "reason").strip().upper()
    if not re.fullmatch(REASON, reason):
        errors["transfer_reason"] = "A reason is a code of letters, digits and dashes (PR-1)."
    if errors:
        return again(422, errors)
    guarantor = enc.get("guarantor") or enc["patient"]
    cmd = LedgerCommand(
        command_id=command_id,
        guarantor_id=guarantor["id"],
        action=LedgerAction.transfer,
        claim_id=claim_id,
        amount_cents=amount,
        reason=reason,
        direction=direction,
        requested_by=user.actor,
        role=ledger_send.limit_role(user.role),
        at=dt.datetime.now(dt.UTC),
        note=forms.first(form, "transfer_note").strip()[:300],
    )
    return await send(
        gw, again, claim_id, "transfer", lambda: ledger_send.send(gw, user.tenant, user.actor, cmd)
    )
