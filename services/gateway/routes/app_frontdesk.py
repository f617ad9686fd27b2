"""The front desk under /app/frontdesk: before a visit, ask the payer (a 270 by the
eligibility service) and show what the patient will likely owe from the 271: copay,
deductible left, coinsurance, out-of-pocket left. The page polls (htmx) until the answer
is there. Needs the right ``eligibility`` (front desk, manager, admin); audited."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from schemas.common import Sex, VisitType
from schemas.events_frontdesk import BenefitCheckRequested
from services.gateway import forms, frontdesk
from services.gateway.core import AuditEntry, Gateway, event_id
from services.gateway.deps import Config, Gw
from services.gateway.ops_sessions import SECURITY_HEADERS
from services.gateway.users import Right, User
from services.gateway.web import PageError, Person, csrf_ok, need, render

router = APIRouter(include_in_schema=False)
CheckId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^desk-[0-9a-f]{16}$")]
FIELDS = 16
TEXT = {  # field -> (label in an error, longest)
    "patient_id": ("The patient's id (MRN)", 64),
    "first_name": ("The first name", 35),
    "last_name": ("The last name", 60),
    "member_id": ("The member id", 80),
    "payer_id": ("The payer", 80),
    "provider_npi": ("The provider's NPI", 10),
    "provider_name": ("The provider's name", 60),
}
PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


def _date(form: dict[str, list[str]], name: str, errors: dict[str, str]) -> dt.date | None:
    text = forms.first(form, name).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = "Give a date such as 2026-12-07."
        return None


def read_form(
    form: dict[str, list[str]], payers: dict[str, str], today: dt.date
) -> tuple[dict[str, Any], dict[str, str]]:
    """The check the form describes, and each field's error in words."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name, (label, longest) in TEXT.items():
        value = forms.first(form, name).strip()
        if not value:
            errors[name] = f"{label} is needed."
        elif len(value) > longest or not PRINTABLE.match(value):
            errors[name] = f"{label} is at most {longest} letters, digits and punctuation."
        out[name] = value
    if "provider_npi" not in errors and not re.fullmatch(r"\d{10}", out["provider_npi"]):
        errors["provider_npi"] = "An NPI is 10 digits."
    if "member_id" not in errors and len(out["member_id"]) < 2:
        errors["member_id"] = "The member id is at least 2 characters."
    out["group_number"] = forms.first(form, "group_number").strip()[:50] or None
    out["birth_date"] = _date(form, "birth_date", errors)
    if out["birth_date"] and out["birth_date"] > today:
        errors["birth_date"] = "The birth date is in the future."
    out["date_of_service"] = _date(form, "date_of_service", errors)
    sex = forms.first(form, "sex") or Sex.unknown.value
    out["sex"] = sex if sex in {s.value for s in Sex} else Sex.unknown.value
    visit = forms.first(form, "visit_type") or VisitType.problem.value
    if visit not in {v.value for v in VisitType}:
        errors["visit_type"] = "Choose the kind of visit."
    out["visit_type"] = visit
    out["payer_name"] = payers.get(out["payer_id"], out["payer_id"])[:60] or "PAYER"
    return out, errors


async def _payers(gw: Gateway, g: Config, tenant: str) -> dict[str, str]:
    async def run() -> dict[str, str]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await frontdesk.payer_names(conn, g.claims_schema, tenant)

    found: dict[str, str] = await gw.guarded(run)
    return found


async def _form(
    request: Request, gw: Gw, g: Config, user: User, status: int = 200, **ctx: Any
) -> Response:
    fields = {"errors": {}, "values": {}, "check_id": "desk-" + secrets.token_hex(8)}
    payers = await _payers(gw, g, user.tenant)
    return render(
        request, "frontdesk.html", status, user=user, payers=payers,
        sexes=list(Sex), visits=list(VisitType), today=dt.datetime.now(dt.UTC).date().isoformat(),
        **(fields | ctx),
    )  # fmt: skip


@router.get("/app/frontdesk")
async def desk_page(request: Request, gw: Gw, g: Config, user: Person) -> Response:
    await need(gw, user, Right.eligibility, "frontdesk")
    return await _form(request, gw, g, user)


@router.post("/app/frontdesk/checks")
async def ask(request: Request, gw: Gw, g: Config, user: Person) -> Response:
    try:
        form = forms.parse(await request.body(), FIELDS)
    except ValueError:
        raise PageError(400, "That form has more fields than it should; reload it.", user) from None
    if not csrf_ok(request, forms.first(form, "csrf")):
        raise PageError(403, "That form has expired or came from another site; reload it.", user)
    await need(gw, user, Right.eligibility, "frontdesk")
    check_id = forms.first(form, "check_id")
    if not re.fullmatch(r"desk-[0-9a-f]{16}", check_id):
        raise PageError(400, "The form is incomplete; reload it.", user)
    payers = await _payers(gw, g, user.tenant)
    fields, errors = read_form(form, payers, dt.datetime.now(dt.UTC).date())
    if errors:
        return await _form(
            request, gw, g, user, 422, errors=errors, values=fields, check_id=check_id
        )
    req = BenefitCheckRequested(check_id=check_id, requested_by=user.actor, **fields)

    async def run() -> None:
        await gw.send(
            req,
            tenant=user.tenant,
            correlation_id=check_id,
            ce_id=event_id(user.tenant, "desk", check_id, b""),
            actor=user.actor,
        )
        entry = AuditEntry(
            user.tenant, user.actor, "app.eligibility.ask", check_id, req.patient_id,
            detail=f"payer {req.payer_id}, date of service {req.date_of_service}",
        )  # fmt: skip
        await gw.commit(
            [frontdesk.asked(user.tenant, check_id, req.patient_id, user.actor),
             Gateway.audit_write(entry)]
        )  # fmt: skip

    await gw.guarded(run)
    return RedirectResponse(
        f"/app/frontdesk/checks/{check_id}", status_code=303, headers=SECURITY_HEADERS
    )


async def _check(gw: Gateway, g: Config, user: User, check_id: str) -> dict[str, Any]:
    async def run() -> dict[str, Any] | None:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            return await frontdesk.check(conn, g.eligibility_schema, user.tenant, check_id)

    found: dict[str, Any] | None = await gw.guarded(run)
    if found is None:
        await gw.audit(
            AuditEntry(user.tenant, user.actor, "app.eligibility", check_id, outcome="denied:404")
        )
        raise PageError(404, "There is no such eligibility check.", user)
    if found["state"] not in ("asking", "pending"):
        await gw.audit(
            AuditEntry(user.tenant, user.actor, "app.eligibility", check_id, found["patient_id"])
        )
    return found


@router.get("/app/frontdesk/checks/{check_id}")
async def check_page(
    request: Request, gw: Gw, g: Config, user: Person, check_id: CheckId
) -> Response:
    await need(gw, user, Right.eligibility, check_id)
    found = await _check(gw, g, user, check_id)
    return render(request, "frontdesk_check.html", user=user, c=found)


@router.get("/app/frontdesk/checks/{check_id}/result")
async def check_result(
    request: Request, gw: Gw, g: Config, user: Person, check_id: CheckId
) -> Response:
    """The answer alone, for the page's polling (htmx swaps it in)."""
    await need(gw, user, Right.eligibility, check_id)
    found = await _check(gw, g, user, check_id)
    return render(request, "_benefits.html", user=user, c=found)
