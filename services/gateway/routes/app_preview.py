"""The claim page's live re-scrub preview (htmx): as a coder edits the codes, the page
shows what coding's scrubber would say about them, before anything is sent.

``POST /app/claims/{id}/preview`` takes the fix form as it stands (CSRF checked, the
``fix`` right), builds the corrected encounter exactly as the fix would (the encounter
the gateway took, with the form's diagnoses and lines) and asks coding
(``scrub_preview.findings``). It answers a fragment, always 200 so htmx swaps it in: the
findings in words, the form's own errors, or why no preview is available. It sends
nothing and changes nothing; the fix button still goes through ``intake.fix``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from schemas.events import EncounterCreated
from services.gateway import scrub_preview
from services.gateway.core import AuditEntry
from services.gateway.deps import Config, Gw, RcmSettings
from services.gateway.routes.app_actions import claim_form, read_codes
from services.gateway.routes.app_pages import ClaimId, load_claim
from services.gateway.users import Right
from services.gateway.web import Person, need, render

router = APIRouter(include_in_schema=False)


def _where(loc: tuple[Any, ...]) -> str:
    """A validation error's place, for a person: 'line 2 procedure_code', 'diagnoses'."""
    parts = [str(p) for p in loc]
    if "lines" in parts and parts.index("lines") + 1 < len(parts):
        i = parts.index("lines")
        rest = " ".join(parts[i + 2 :])
        return f"line {int(parts[i + 1]) + 1} {rest}".strip() if parts[i + 1].isdigit() else rest
    return " ".join(parts)


@router.post("/app/claims/{claim_id}/preview")
async def post_preview(
    request: Request, gw: Gw, g: Config, s: RcmSettings, user: Person, claim_id: ClaimId
) -> Response:
    form = await claim_form(request, user)
    _, patient_id, enc = await load_claim(gw, g, user, claim_id)
    await need(gw, user, Right.fix, claim_id)

    def fragment(**ctx: Any) -> Response:
        ctx = {"findings": None, "problems": [], "unavailable": ""} | ctx
        return render(request, "_preview.html", user=user, **ctx)

    if enc is None:
        return fragment(unavailable="The encounter did not come through this gateway.")
    changes, errors = read_codes(form)
    if errors:
        return fragment(problems=sorted(set(errors.values())))
    try:
        corrected = EncounterCreated.model_validate(enc | changes)
    except ValidationError as exc:
        bad = exc.errors(include_url=False, include_input=False)
        said = [(_where(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in bad]
        return fragment(problems=[f"{at}: {msg}" if at else msg for at, msg in said][:10])
    await gw.audit(
        AuditEntry(
            user.tenant,
            user.actor,
            "app.claim.preview",
            claim_id,
            patient_id,
            claim_ids=(claim_id,),
        )
    )
    try:
        found = await scrub_preview.findings(s, g, user.tenant, claim_id, corrected)
    except scrub_preview.Unavailable as exc:
        return fragment(unavailable=f"No preview now: {exc}. The fix can still be sent.")
    return fragment(findings=found)
