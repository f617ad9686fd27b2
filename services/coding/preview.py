"""What the scrubber would say about a claim a person is fixing, before they send the fix.

``POST /v1/scrub/preview`` on coding's own web server (port 6102; the platform's ops
bearer token, the machine key the gateway already holds for reporting's KPIs). The body
names the tenant, the claim and the corrected encounter; the answer is the findings the
scrubber would give that encounter in words (each hold with what to change), exactly as
:func:`services.coding.handlers.on_fixed` would code it: the claim's last
eligibility.checked with the encounter replaced, the loaded NCCI/MUE tables, the payer's
rules in force and the patient's prior services. Nothing is written: the preview never
changes the claim, the history or the coding results. A claim coding never saw for that
tenant answers 404; a body that is not an encounter 422 with the fields at fault (their
locations only, never the values: they may carry patient data).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from faust.web import View
from pydantic import BaseModel, Field, ValidationError

from runtime.ops_web import authorized
from runtime.settings import Settings
from schemas.events import ClaimHeld, EncounterCreated
from services.coding import repository
from services.coding.edits.facts import billed_payer
from services.coding.handlers import history_codes
from services.coding.rulebook import LoadedRules
from services.coding.scrub import scrub
from services.coding.tables import LoadedTables

PATH = "/v1/scrub/preview"
MAX_BODY = 1_000_000


class PreviewAsk(BaseModel):
    tenant: str = Field(min_length=1, max_length=64)
    claim_id: str = Field(min_length=1, max_length=64)
    encounter: EncounterCreated


async def preview(
    conn: asyncpg.Connection,
    ask: PreviewAsk,
    tables: LoadedTables,
    rules: LoadedRules,
) -> list[dict[str, Any]] | None:
    """The findings, holds first then warnings, each ``{edit, severity, line, message,
    fix}``; None when coding never saw the claim for this tenant."""
    found = await repository.last_input(conn, ask.claim_id)
    if found is None or found[0] != ask.tenant:
        return None
    checked = found[1].model_copy(update={"encounter": ask.encounter})
    codes = history_codes(rules, ask.tenant, checked)
    prior = []
    if codes:
        patient = ask.encounter.patient.id
        history = await repository.History.load(conn, [(ask.tenant, patient)], codes)
        prior = history.prior(ask.tenant, patient)
    book = rules.book(ask.tenant).for_claim(billed_payer(checked), ask.encounter.date_of_service)
    result = scrub(checked, tables.current, prior, book)
    out: list[dict[str, Any]] = []
    if isinstance(result, ClaimHeld):
        lines = {f.edit: f.line for f in result.findings if f.severity == "hold"}
        out += [
            {"edit": r.code, "severity": "hold", "line": lines.get(r.code), "message": r.message}
            | {"fix": r.fix}
            for r in result.reasons
        ]
    out += [
        {"edit": f.edit, "severity": "warn", "line": f.line, "message": f.message, "fix": ""}
        for f in result.findings
        if f.severity == "warn"
    ]
    return out


async def handle(
    pool: asyncpg.Pool,
    s: Settings,
    headers: Any,
    body: bytes,
    tables: LoadedTables,
    rules: LoadedRules,
) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body for one POST (transport-neutral)."""
    if not authorized(headers, s):
        return 401, {"error": "missing or bad bearer token"}
    if len(body) > MAX_BODY:
        return 413, {"error": f"a preview body is at most {MAX_BODY} bytes"}
    try:
        ask = PreviewAsk.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError:
        return 422, {"error": "the body is not JSON"}
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return 422, {"error": "the body is not a preview request", "fields": where[:20]}
    async with pool.acquire() as conn:
        findings = await preview(conn, ask, tables, rules)
    if findings is None:
        return 404, {"error": f"coding never saw claim {ask.claim_id} for this tenant"}
    return 200, {"claim_id": ask.claim_id, "findings": findings}


def faust_view(pool: Any, s: Settings, tables: LoadedTables, rules: LoadedRules) -> type[View]:
    """The endpoint as a view of the service's web server; ``pool`` a callable giving
    the service's pool once it started."""

    class ScrubPreview(View):
        async def post(self, request: Any, **kwargs: Any) -> Any:
            code, answer = await handle(
                pool(), s, request.headers, await request.read(), tables, rules
            )
            return self.json(answer, status=code)

    return ScrubPreview
