"""Actions from the claim page, through the commands the JSON API uses (intake.fix): the
saga sees the same ``claim.fixed`` event whoever sends it.

An action names the claim's version its page was built from (``state@state_since``); a
claim that moved since is refused with what changed, never fixed blindly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.gateway import forms, intake
from services.gateway.claim_work import claim_work
from services.gateway.deps import Config, Gw
from services.gateway.ops_sessions import SECURITY_HEADERS
from services.gateway.routes.app_pages import ClaimId, load_claim, version
from services.gateway.users import Right, User
from services.gateway.web import PageError, Person, csrf_ok, need, render

router = APIRouter(include_in_schema=False)
MAX_LINES = 50
FIX_FIELDS = 5 + 5 * MAX_LINES
CODE = re.compile(r"[A-Za-z0-9.]+")


def _codes(text: str) -> list[str]:
    return [c.upper() for c in CODE.findall(text)]


def _cents(text: str) -> int:
    try:
        value = Decimal(text.strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise ValueError("a charge is an amount such as 125.00") from None
    if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("a charge is a positive amount with at most cents")
    return int(value * 100)


def read_codes(form: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The codes fix the form describes, and each field's error in words."""
    errors: dict[str, str] = {}
    diagnoses = _codes(forms.first(form, "diagnoses"))
    if not diagnoses:
        errors["diagnoses"] = "Give at least one diagnosis code."
    lines = []
    for n in range(1, MAX_LINES + 1):
        code = forms.first(form, f"code_{n}").strip().upper()
        if not code:
            continue
        line: dict[str, Any] = {
            "procedure_code": code,
            "modifiers": _codes(forms.first(form, f"mods_{n}")),
            "diagnosis_codes": _codes(forms.first(form, f"dx_{n}")),
        }
        try:
            line["units"] = int(forms.first(form, f"units_{n}") or "1")
        except ValueError:
            errors[f"units_{n}"] = "Units is a whole number."
        try:
            line["charge_cents"] = _cents(forms.first(form, f"charge_{n}"))
        except ValueError as exc:
            errors[f"charge_{n}"] = str(exc).capitalize() + "."
        lines.append(line)
    if not lines:
        errors["code_1"] = "Give at least one service line."
    return {"diagnoses": diagnoses, "lines": lines}, errors


def _field(loc: str) -> str:
    """An intake error location (encounter.lines.0.procedure_code) as the form's field."""
    parts = loc.split(".")
    if "lines" in parts:
        i = parts.index("lines")
        n = int(parts[i + 1]) + 1 if len(parts) > i + 1 and parts[i + 1].isdigit() else 1
        name = parts[i + 2] if len(parts) > i + 2 else "procedure_code"
        short = {"procedure_code": "code", "modifiers": "mods", "units": "units"}
        return f"{short.get(name, 'dx' if name == 'diagnosis_codes' else 'charge')}_{n}"
    return "diagnoses"


def changed_since(sent: str, claim: dict[str, Any]) -> str:
    """'' when the claim is as the page showed it, else what changed, in words."""
    if sent == version(claim):
        return ""
    was, now = sent.replace("@", " since "), version(claim).replace("@", " since ")
    return (
        f"This claim changed since you opened it: it was {was}, it is now {now}."
        " Nothing was sent; look at it again below."
    )


async def claim_form(request: Request, user: User) -> dict[str, list[str]]:
    """A claim page's form, its CSRF token checked."""
    try:
        form = forms.parse(await request.body(), FIX_FIELDS)
    except ValueError:
        raise PageError(422, "That form has more fields than a claim has lines.", user) from None
    if not csrf_ok(request, forms.first(form, "csrf")):
        raise PageError(403, "That form has expired or came from another site; reload it.", user)
    return form


async def claim_action(
    request: Request, gw: Gw, g: Config, user: User, claim_id: str, right: Right
) -> tuple[dict[str, list[str]], Callable[..., Response], str]:
    """The form (CSRF checked), a re-render of the claim page with errors, and what changed."""
    form = await claim_form(request, user)
    claim, _, enc = await load_claim(gw, g, user, claim_id)
    if right is Right.fix and claim["state"] in intake.CORRECTABLE:
        right = Right.void  # a corrected claim replaces what the payer adjudicated
    await need(gw, user, right, claim_id)
    work = await claim_work(gw, user.tenant, claim_id)

    def again(status: int, errors: dict[str, str], changed: str = "") -> Response:
        return render(
            request, "claim.html", status, user=user, claim=claim, enc=enc,
            version=version(claim), errors=errors, changed=changed, sent="", work=work,
        )  # fmt: skip

    return form, again, changed_since(forms.first(form, "version"), claim)


def sent(claim_id: str, what: str) -> Response:
    return RedirectResponse(
        f"/app/claims/{claim_id}?sent={what}", status_code=303, headers=SECURITY_HEADERS
    )


async def send(
    gw: Gw, again: Callable[..., Response], claim_id: str, what: str, call: Callable[[], Any]
) -> Response:
    """Sends the action's command (``call``): the claim page saying it was sent, or the
    page again with why the claim's state refused it."""
    try:
        await gw.guarded(call)
    except intake.Conflict as exc:
        return again(409, {}, str(exc))
    return sent(claim_id, what)


@router.post("/app/claims/{claim_id}/fix")
async def post_fix(
    request: Request, gw: Gw, g: Config, user: Person, claim_id: ClaimId
) -> Response:
    form, again, changed = await claim_action(request, gw, g, user, claim_id, Right.fix)
    if changed:
        return again(409, {}, changed)
    changes, errors = read_codes(form)
    if errors:
        return again(422, errors)
    actor = intake.Actor(user.tenant, user.actor)
    note = forms.first(form, "note")[:500]
    try:
        await gw.guarded(lambda: intake.fix(gw, actor, claim_id, changes, note))
    except intake.Invalid as exc:
        return again(422, {_field(e["loc"]): e["msg"] for e in exc.errors})
    except intake.Conflict as exc:
        return again(409, {}, str(exc))
    return sent(claim_id, "fix")


@router.post("/app/claims/{claim_id}/void")
async def post_void(
    request: Request, gw: Gw, g: Config, user: Person, claim_id: ClaimId
) -> Response:
    form, again, changed = await claim_action(request, gw, g, user, claim_id, Right.void)
    if changed:
        return again(409, {}, changed)
    reason = forms.first(form, "reason").strip()[:500]
    if not reason:
        return again(422, {"reason": "Say why the claim is voided (kept on its timeline)."})
    actor = intake.Actor(user.tenant, user.actor)
    return await send(gw, again, claim_id, "void", lambda: intake.void(gw, actor, claim_id, reason))
