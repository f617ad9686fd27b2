"""A patient account's money work under /app/accounts/{guarantor}: a statement's PDF (as
the statements service rendered it), and commands on the account by role through the
same path as ``POST /v1/ledger/commands`` (``ledger_send.send``): a write-off with a
reason and a refund of the credit (right ``adjust``: biller, manager, admin), and the
approval or rejection of a request waiting above its requester's limit (right
``approve``: manager, admin). Above the person's limit a request waits; the page lists
each request and what became of it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from schemas.events_ledger import REASON, LedgerAction, LedgerCommand
from services.gateway import account_queries, forms, ledger_send
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw
from services.gateway.ops_sessions import SECURITY_HEADERS
from services.gateway.routes.app_accounts import GuarantorId, _account, _page
from services.gateway.routes.app_actions import _cents
from services.gateway.users import Right, User
from services.gateway.web import PageError, Person, csrf_ok, need

router = APIRouter(include_in_schema=False)
StatementId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
ACTIONS = {
    "write_off": Right.adjust,
    "refund": Right.adjust,
    "approve": Right.approve,
    "reject": Right.approve,
}


@router.get("/app/accounts/{guarantor_id}/statements/{statement_id}.pdf")
async def statement_pdf(
    gw: Gw, g: Config, user: Person, guarantor_id: GuarantorId, statement_id: StatementId
) -> Response:
    await need(gw, user, Right.read, guarantor_id)

    async def run() -> bytes | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await account_queries.statement_pdf(
                conn, g, user.tenant, guarantor_id, statement_id
            )

    pdf: bytes | None = await gw.guarded(run)
    outcome = "ok" if pdf is not None else "denied:404"
    await gw.audit(
        AuditEntry(
            user.tenant, user.actor, "app.statement_pdf", statement_id, guarantor_id,
            outcome=outcome,
        )
    )  # fmt: skip
    if pdf is None:
        raise PageError(404, "There is no such statement PDF (yet).", user)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="statement-{statement_id}.pdf"',
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


def read_command(
    form: dict[str, list[str]], acct: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The command the form describes, and each field's error in words."""
    errors: dict[str, str] = {}
    action = forms.first(form, "action")
    out: dict[str, Any] = {"action": action}
    if action in ("approve", "reject"):
        rid = forms.first(form, "request_id")
        pending = {r["request_id"] for r in acct["requests"] if r["status"] == "pending"}
        if rid not in pending:
            errors["request_id"] = "That request is not waiting for approval any more; reload."
        out["request_id"] = rid
        return out, errors
    try:
        out["amount_cents"] = _cents(forms.first(form, "amount"))
    except ValueError:
        errors[f"{action}_amount"] = "Give an amount such as 25.00."
    reason = forms.first(form, "reason").strip().upper()
    if not re.fullmatch(REASON, reason):
        errors[f"{action}_reason"] = "A reason is a code of letters, digits and dashes (BAD-DEBT)."
    out["reason"] = reason
    if action == "write_off":
        claim_id = forms.first(form, "claim_id")
        if claim_id not in {e["claim_id"] for e in acct["entries"] if e["claim_id"]}:
            errors["write_off_claim"] = "Choose a claim of this account."
        out["claim_id"] = claim_id
    elif out.get("amount_cents", 0) > acct["credit_cents"]:
        errors["refund_amount"] = f"The account holds {acct['credit_cents'] / 100:.2f} of credit."
    return out, errors


@router.post("/app/accounts/{guarantor_id}/ledger")
async def post_command(
    request: Request, gw: Gw, g: Config, user: Person, guarantor_id: GuarantorId
) -> Response:
    form = forms.parse(await request.body(), 8)
    if not csrf_ok(request, forms.first(form, "csrf")):
        raise PageError(403, "That form has expired or came from another site; reload it.", user)
    action = forms.first(form, "action")
    if action not in ACTIONS:
        raise PageError(400, "The form is incomplete; reload it.", user)
    await need(gw, user, ACTIONS[action], guarantor_id)
    acct = await _account(gw, g, user, guarantor_id)
    command_id = forms.first(form, "command_id")
    if not re.fullmatch(r"app-[0-9a-f]{16}", command_id):
        raise PageError(400, "The form is incomplete; reload it.", user)
    fields, errors = read_command(form, acct)
    if errors:
        return _page(request, user, acct, 422, errors=errors, values=fields)
    cmd = _command(user, guarantor_id, command_id, fields)
    await gw.guarded(lambda: ledger_send.send(gw, user.tenant, user.actor, cmd))
    return RedirectResponse(
        f"/app/accounts/{guarantor_id}?sent={action}", status_code=303, headers=SECURITY_HEADERS
    )


def _command(user: User, guarantor_id: str, command_id: str, f: dict[str, Any]) -> LedgerCommand:
    return LedgerCommand(
        command_id=command_id,
        guarantor_id=guarantor_id,
        action=LedgerAction(f["action"]),
        claim_id=f.get("claim_id"),
        amount_cents=f.get("amount_cents", 0),
        reason=f.get("reason") or "ADMIN",
        request_id=f.get("request_id"),
        requested_by=user.actor,
        role=ledger_send.limit_role(user.role),
        at=dt.datetime.now(dt.UTC),
    )
