"""A patient account under /app/accounts/: the ledger, the balance, the statements, and a
payment taken at the desk or by check (the same command as POST /v1/payments)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from schemas.events_payments import PatientPaymentReceived, PaymentMethod
from services.gateway import account_queries, app_queries, forms, intake
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw
from services.gateway.ops_sessions import SECURITY_HEADERS
from services.gateway.routes.app_actions import _cents
from services.gateway.users import Right, User
from services.gateway.web import PageError, Person, csrf_ok, need, render

router = APIRouter(include_in_schema=False)
GuarantorId = Annotated[str, PathParam(min_length=1, max_length=64)]
DESK_METHODS = (PaymentMethod.cash, PaymentMethod.check, PaymentMethod.card)


async def _account(gw: Gw, g: Config, user: User, guarantor_id: str) -> dict[str, Any]:
    async def run() -> dict[str, Any] | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            acct = await app_queries.account(conn, g, user.tenant, guarantor_id)
            if acct is not None:
                acct |= await account_queries.extras(conn, g, user.tenant, guarantor_id)
            return acct

    found: dict[str, Any] | None = await gw.guarded(run)
    if found is None:
        await gw.audit(
            AuditEntry(user.tenant, user.actor, "app.account", guarantor_id, outcome="denied:404")
        )
        raise PageError(404, "There is no such patient account.", user)
    return found


def _page(
    request: Request, user: User, acct: dict[str, Any], status: int = 200, **ctx: Any
) -> Response:
    fields = {
        "sent": "",
        "errors": {},
        "payment_id": "desk-" + secrets.token_hex(8),
        "command_id": "app-" + secrets.token_hex(8),
        "values": {},
    }
    return render(
        request, "account.html", status, user=user, acct=acct, methods=DESK_METHODS,
        **(fields | ctx),
    )  # fmt: skip


@router.get("/app/accounts/{guarantor_id}")
async def account_page(
    request: Request, gw: Gw, g: Config, user: Person, guarantor_id: GuarantorId
) -> Response:
    await need(gw, user, Right.read, guarantor_id)
    acct = await _account(gw, g, user, guarantor_id)
    claims = tuple(sorted({str(e["claim_id"]) for e in acct["entries"] if e["claim_id"]}))
    await gw.audit(
        AuditEntry(
            user.tenant, user.actor, "app.account", guarantor_id, guarantor_id, claim_ids=claims
        )
    )
    return _page(request, user, acct, sent=request.query_params.get("sent", ""))


@router.post("/app/accounts/{guarantor_id}/payments")
async def post_payment(
    request: Request, gw: Gw, g: Config, user: Person, guarantor_id: GuarantorId
) -> Response:
    form = forms.parse(await request.body())
    if not csrf_ok(request, forms.first(form, "csrf")):
        raise PageError(403, "That form has expired or came from another site; reload it.", user)
    await need(gw, user, Right.payment, guarantor_id)
    acct = await _account(gw, g, user, guarantor_id)
    errors: dict[str, str] = {}
    try:
        amount = _cents(forms.first(form, "amount"))
    except ValueError as exc:
        errors["amount"] = str(exc).capitalize() + "."
    method = forms.first(form, "method")
    if method not in {m.value for m in DESK_METHODS}:
        errors["method"] = "Choose cash, check or card."
    reference = forms.first(form, "reference").strip()[:80]
    if method == PaymentMethod.check.value and not reference:
        errors["reference"] = "A check payment needs the check number."
    payment_id = forms.first(form, "payment_id")[:64]
    if not payment_id.startswith("desk-"):
        errors["amount"] = errors.get("amount", "The form is incomplete; reload it.")
    if errors:
        return _page(request, user, acct, 422, errors=errors)
    ev = PatientPaymentReceived(
        payment_id=payment_id,
        guarantor_id=guarantor_id,
        amount_cents=amount,
        method=PaymentMethod(method),
        received_at=dt.datetime.now(dt.UTC),
        reference=reference or None,
    )
    actor = intake.Actor(user.tenant, user.actor)
    await gw.guarded(lambda: intake.payment(gw, actor, ev))
    return RedirectResponse(
        f"/app/accounts/{guarantor_id}?sent=payment", status_code=303, headers=SECURITY_HEADERS
    )
